/**
 * The ioredis internal that ioredis-internals.ts relies on. If an upgrade of ioredis (pinned in
 * package-lock.json) renames or reshapes it, this fails loudly instead of the gateway quietly
 * spinning again while a Cluster shard is lost (gateway/test/scale-out.test.ts measures that).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, jest } from '@jest/globals';
import { Cluster } from 'ioredis';
import { canThrottleSubscriberRefresh, throttleSubscriberRefresh } from '../src/ioredis-internals.js';

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
      const emitter = new EventEmitter();
      const refresh = jest.fn();
      emitter.on('-node', refresh);
      const cluster = { subscriberGroupEmitter: emitter, status: 'ready' } as unknown as Cluster;
      expect(
        throttleSubscriberRefresh(cluster, { initialDelayMs: 100, maxDelayMs: 400, quietMs: 1000 }),
      ).toBe(true);
      emitter.emit('-node');
      expect(refresh).toHaveBeenCalledTimes(1); // a failover is followed without delay
      emitter.emit('-node');
      emitter.emit('-node'); // coalesced with the pending one
      expect(refresh).toHaveBeenCalledTimes(1);
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
});
