/**
 * The ioredis internals that ioredis-internals.ts relies on. If an upgrade of ioredis (pinned in
 * package-lock.json) renames or reshapes them, this fails loudly instead of the gateway quietly
 * spinning again while a Cluster shard is lost (gateway/test/scale-out.test.ts measures that), or
 * missing a feed gap (gateway/test/cluster.test.ts).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, jest } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { BlackHoleProxy } from '../../shared/testing/tcp-proxy.js';
import { isTimeout } from '../src/redis/connections.js';
import {
  canThrottleSubscriberRefresh,
  onClassicSubscriberReplaced,
  throttleSubscriberRefresh,
} from '../src/redis/ioredis-internals.js';

/**
 * A real Cluster of this ioredis (never connected: lazyConnect), with its slot-map refresh
 * counted instead of run: the throttle works on ioredis's own emitter and listeners.
 */
function lazyCluster() {
  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], {
    lazyConnect: true,
    shardedSubscribers: true,
  });
  cluster.on('error', () => undefined); // ioredis re-emits a subscriber's failure as 'error'
  const refresh = jest.spyOn(cluster, 'refreshSlotsCache').mockImplementation(() => undefined);
  const emitter = (cluster as unknown as { subscriberGroupEmitter: EventEmitter }).subscriberGroupEmitter;
  return { emitter, refresh, cluster };
}

describe('ioredis internals', () => {
  it('a Cluster with sharded subscribers has the emitter and one "-node" listener to wrap', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], {
      lazyConnect: true,
      shardedSubscribers: true,
    });
    try {
      expect(canThrottleSubscriberRefresh(cluster)).toBe(true);
      expect(throttleSubscriberRefresh(cluster)).toBe(true);
      expect(canThrottleSubscriberRefresh(cluster)).toBe(true); // still exactly one listener: ours
    } finally {
      cluster.disconnect();
    }
  });

  it('fails closed: a "-node" listener that does anything else is left alone', () => {
    const { emitter, cluster } = lazyCluster();
    const theirs = emitter.listeners('-node')[0]!;
    emitter.removeAllListeners('-node');
    emitter.on('-node', () => cluster.emit('something ioredis might add'));
    expect(canThrottleSubscriberRefresh(cluster)).toBe(false);
    expect(throttleSubscriberRefresh(cluster)).toBe(false);
    expect(emitter.listeners('-node')).toHaveLength(1);
    emitter.on('-node', theirs as (...args: unknown[]) => void); // two listeners: not the known shape either
    expect(canThrottleSubscriberRefresh(cluster)).toBe(false);
  });

  it('refreshes at once after a quiet spell, then backs off while nodes keep being lost', () => {
    jest.useFakeTimers();
    try {
      const { emitter, refresh, cluster } = lazyCluster();
      const lost = jest.fn();
      cluster.on('-node', lost);
      expect(
        throttleSubscriberRefresh(cluster, { initialDelayMs: 100, maxDelayMs: 400, quietMs: 1000 }),
      ).toBe(true);
      emitter.emit('-node', null, 'a:1');
      expect(refresh).toHaveBeenCalledTimes(1); // a failover is followed without delay
      emitter.emit('-node', null, 'b:2');
      emitter.emit('-node', null, 'c:3'); // coalesced with the pending one
      expect(refresh).toHaveBeenCalledTimes(1);
      // ...but every lost subscriber is told at once, with its node: the fan-out needs each one
      expect(lost.mock.calls.map((call) => call[1])).toEqual(['a:1', 'b:2', 'c:3']);
      jest.advanceTimersByTime(100);
      expect(refresh).toHaveBeenCalledTimes(2);
      emitter.emit('-node');
      jest.advanceTimersByTime(199);
      expect(refresh).toHaveBeenCalledTimes(2);
      jest.advanceTimersByTime(1);
      expect(refresh).toHaveBeenCalledTimes(3);
      for (let i = 0; i < 5; i++) {
        emitter.emit('-node');
        jest.advanceTimersByTime(400); // capped
      }
      expect(refresh).toHaveBeenCalledTimes(8);
      jest.advanceTimersByTime(2000);
      emitter.emit('-node');
      expect(refresh).toHaveBeenCalledTimes(9); // quiet again: at once
    } finally {
      jest.useRealTimers();
    }
  });

  it('adds no refresh while ioredis has one scheduled for a subscriber that failed to start', () => {
    jest.useFakeTimers();
    try {
      const { emitter, refresh, cluster } = lazyCluster();
      throttleSubscriberRefresh(cluster, { initialDelayMs: 100, maxDelayMs: 400, quietMs: 1000 });
      emitter.emit('-node', null, 'a:1'); // a connected subscriber lost: refresh at once
      expect(refresh).toHaveBeenCalledTimes(1);
      // that refresh's new subscriber fails to start: ioredis schedules its own refresh, and the
      // subscriber's end says "-node" too; ours would be a second chain of refreshes
      emitter.emit('subscriberConnectFailed', { delay: 300, error: new Error('ECONNREFUSED') });
      emitter.emit('-node', null, 'a:1');
      jest.advanceTimersByTime(1000);
      expect(refresh).toHaveBeenCalledTimes(2); // ioredis's own, after its 300 ms; none of ours
      emitter.emit('-node', null, 'a:1'); // nothing scheduled any more: ours again
      jest.advanceTimersByTime(400);
      expect(refresh).toHaveBeenCalledTimes(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a Cluster has a classic subscriber whose replacement can be followed', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      const replaced = jest.fn();
      expect(onClassicSubscriberReplaced(cluster, replaced)).toBe(true);
      // ioredis selects one when the Cluster connects, and again whenever it loses it
      (cluster as unknown as { subscriber: { selectSubscriber(): void } }).subscriber.selectSubscriber();
      expect(replaced).toHaveBeenCalledTimes(1);
    } finally {
      cluster.disconnect();
    }
  });
});

describe('a timed-out command, as this ioredis reports it', () => {
  it('is recognised by isTimeout (so a deaf connection is probed at once)', async () => {
    const server = await PrivateRedis.start();
    const proxy = await BlackHoleProxy.start({ host: '127.0.0.1', port: server.port });
    const redis = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
    try {
      await redis.ping();
      // Only now: a busy machine (CI running two suites at once) may take over 100 ms to answer
      // the first ping, which then timed out instead of the command under test.
      redis.options.commandTimeout = 100;
      proxy.blackHole();
      const error = await redis.get('anything').catch((e: unknown) => e);
      expect(isTimeout(error)).toBe(true);
      expect(isTimeout(new Error('Connection is closed.'))).toBe(false);
    } finally {
      redis.disconnect();
      await proxy.stop();
      await server.stop();
    }
  });
});
