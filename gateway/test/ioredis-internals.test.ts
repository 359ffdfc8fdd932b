/**
 * The ioredis internals that ioredis-internals.ts relies on. If an upgrade of ioredis (pinned in
 * package-lock.json) renames or reshapes them, this fails loudly instead of the gateway quietly
 * spinning again while a Cluster shard is lost (gateway/test/scale-out.test.ts measures that), or
 * missing a feed gap (gateway/test/cluster.test.ts).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, jest } from '@jest/globals';
import { Cluster } from 'ioredis';
import {
  canThrottleSubscriberRefresh,
  onClassicSubscriberReplaced,
  throttleSubscriberRefresh,
} from '../src/redis/ioredis-internals.js';

/** What the throttle touches of a Cluster: its subscriber group's emitter and its refresh. */
function fakeCluster() {
  const emitter = new EventEmitter();
  emitter.on('-node', () => undefined); // ioredis's own listener, replaced
  const refresh = jest.fn();
  const cluster = Object.assign(new EventEmitter(), {
    subscriberGroupEmitter: emitter,
    status: 'ready',
    refreshSlotsCache: refresh,
  }) as unknown as Cluster;
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

  it('refreshes at once after a quiet spell, then backs off while nodes keep being lost', () => {
    jest.useFakeTimers();
    try {
      const { emitter, refresh, cluster } = fakeCluster();
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
      const { emitter, refresh, cluster } = fakeCluster();
      throttleSubscriberRefresh(cluster, { initialDelayMs: 100, maxDelayMs: 400, quietMs: 1000 });
      emitter.emit('-node', null, 'a:1'); // a connected subscriber lost: refresh at once
      expect(refresh).toHaveBeenCalledTimes(1);
      // that refresh's new subscriber fails to start: ioredis schedules its own refresh, and the
      // subscriber's end says "-node" too; ours would be a second chain of refreshes
      emitter.emit('subscriberConnectFailed', { delay: 300, error: new Error('ECONNREFUSED') });
      emitter.emit('-node', null, 'a:1');
      jest.advanceTimersByTime(1000);
      expect(refresh).toHaveBeenCalledTimes(1);
      emitter.emit('-node', null, 'a:1'); // nothing scheduled any more: ours again
      jest.advanceTimersByTime(400);
      expect(refresh).toHaveBeenCalledTimes(2);
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
