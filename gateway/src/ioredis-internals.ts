/**
 * The one ioredis internal the gateway touches. With `shardedSubscribers`, ioredis refreshes the
 * slot map the moment a shard's subscriber connection ends ("-node"). While a shard is down with
 * no replica to promote, its slots still point at the dead node, so every refresh builds a new
 * subscriber for it, which fails at once and ends again: a loop measured here at a full core per
 * gateway, ~200 SSUBSCRIBE, CLUSTER SLOTS and CLIENT SETNAME a second to the surviving nodes.
 * ioredis already backs off on the other path (a failed subscriber start refreshes after
 * 100 ms · 2^n, at most 2 s); this puts the "-node" path behind a backoff of its own: the first
 * refresh after a quiet spell goes at once (a failover is followed without delay), repeats wait
 * longer and longer, up to `maxDelayMs`.
 *
 * Used behind a capability check: without the private emitter (an upgrade renamed it) nothing is
 * changed, and `gateway/test/ioredis-internals.test.ts` fails loudly.
 */
import type { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';

interface ClusterInternals {
  subscriberGroupEmitter?: EventEmitter;
}

type NodeLostListener = (...args: unknown[]) => void;

export interface RefreshBackoff {
  /** Delay of the second refresh in a burst; doubles with each further one. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A burst ends after this long without a lost node: the next refresh goes at once again. */
  quietMs: number;
}

/** As ioredis backs off its own refresh after a failed subscriber start: 100 ms · 2^n, at most 2 s. */
export const DEFAULT_REFRESH_BACKOFF: RefreshBackoff = {
  initialDelayMs: 100,
  maxDelayMs: 2000,
  quietMs: 10_000,
};

/** True when this ioredis exposes what `throttleSubscriberRefresh` needs. */
export function canThrottleSubscriberRefresh(cluster: Cluster): boolean {
  const emitter = (cluster as unknown as ClusterInternals).subscriberGroupEmitter;
  return emitter !== undefined && emitter.listeners('-node').length === 1;
}

/** Puts ioredis's refresh-on-lost-subscriber behind a backoff. Returns false when it could not. */
export function throttleSubscriberRefresh(
  cluster: Cluster,
  backoff: RefreshBackoff = DEFAULT_REFRESH_BACKOFF,
): boolean {
  if (!canThrottleSubscriberRefresh(cluster)) return false;
  const emitter = (cluster as unknown as Required<ClusterInternals>).subscriberGroupEmitter;
  const original = emitter.listeners('-node')[0] as NodeLostListener;
  emitter.removeListener('-node', original);
  let burst = 0;
  let lastAt = 0;
  let pending: NodeJS.Timeout | null = null;
  let latestArgs: unknown[] = [];
  emitter.on('-node', (...args: unknown[]) => {
    latestArgs = args;
    if (pending) return; // one refresh is already coming: it reads the newest slot map anyway
    const now = Date.now();
    burst = now - lastAt > backoff.quietMs ? 0 : burst + 1;
    lastAt = now;
    const delay = burst === 0 ? 0 : Math.min(backoff.initialDelayMs * 2 ** (burst - 1), backoff.maxDelayMs);
    if (delay === 0) {
      original(...latestArgs);
      return;
    }
    pending = setTimeout(() => {
      pending = null;
      if (cluster.status === 'end') return;
      original(...latestArgs);
    }, delay);
    pending.unref();
  });
  return true;
}
