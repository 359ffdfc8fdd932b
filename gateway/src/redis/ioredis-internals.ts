/**
 * The two ioredis internals the gateway touches, each behind a capability check.
 *
 * 1. With `shardedSubscribers`, ioredis refreshes the
 * slot map the moment a shard's subscriber connection ends ("-node"). While a shard is down with
 * no replica to promote, its slots still point at the dead node, so every refresh builds a new
 * subscriber for it, which fails at once and ends again: a loop measured here at a full core per
 * gateway, ~200 SSUBSCRIBE, CLUSTER SLOTS and CLIENT SETNAME a second to the surviving nodes.
 * ioredis already backs off on the other path (a failed subscriber start refreshes after
 * 100 ms · 2^n, at most 2 s); this puts the "-node" path behind a backoff of its own: the first
 * refresh after a quiet spell goes at once (a failover is followed without delay), repeats wait
 * longer and longer, up to `maxDelayMs`, and none is added while ioredis has one scheduled.
 * 2. The Cluster's classic subscriber is replaced without an event (`onClassicSubscriberReplaced`).
 *
 * Without them (an upgrade renamed them) nothing is changed, a warning is logged, and
 * `gateway/test/ioredis-internals.test.ts` fails loudly.
 */
import type { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';

interface ClusterInternals {
  subscriberGroupEmitter?: EventEmitter;
}

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

/**
 * What ioredis's own "-node" listener does (5.11.1, cluster/index.js): re-emit the loss on the
 * Cluster, then refresh the slot map, and nothing else. Ours does exactly that with a backoff.
 */
const IOREDIS_NODE_LISTENER =
  /^\(redis, nodeKey\) => \{\s*this\.emit\("-node", redis, nodeKey\);\s*this\.refreshSlotsCache\(refreshSlotsCacheCallback\);\s*\}$/;

/** Our own listeners, so that a Cluster already throttled is recognised. */
const THROTTLED = new WeakSet<object>();

/**
 * True when this ioredis exposes what `throttleSubscriberRefresh` needs and its own listener does
 * only what ours replaces. Fails closed: any other shape (an upgrade changed it) leaves ioredis's
 * listener alone, which only costs the CPU the throttle saves.
 */
export function canThrottleSubscriberRefresh(cluster: Cluster): boolean {
  const emitter = (cluster as unknown as ClusterInternals).subscriberGroupEmitter;
  if (emitter === undefined || typeof cluster.refreshSlotsCache !== 'function') return false;
  const listeners = emitter.listeners('-node');
  return (
    listeners.length === 1 &&
    (THROTTLED.has(listeners[0]!) || IOREDIS_NODE_LISTENER.test(String(listeners[0])))
  );
}

/**
 * Puts ioredis's refresh-on-lost-subscriber behind a backoff. Returns false when it could not.
 *
 * ioredis's own listener does two things: it re-emits the loss on the Cluster as
 * `-node (redis, nodeKey)` (the fan-out learns from it which shard's subscriptions may have missed
 * messages) and refreshes the slot map. Ours does the first at once for every lost subscriber
 * (coalescing it would hide a shard) and the second with backoff, as ioredis would: on
 * "Failed to refresh slots cache" from every node, the Cluster reconnects.
 */
export function throttleSubscriberRefresh(
  cluster: Cluster,
  backoff: RefreshBackoff = DEFAULT_REFRESH_BACKOFF,
): boolean {
  if (!canThrottleSubscriberRefresh(cluster)) return false;
  const emitter = (cluster as unknown as Required<ClusterInternals>).subscriberGroupEmitter;
  emitter.removeAllListeners('-node');
  let burst = 0;
  let lastAt = 0;
  let pending: NodeJS.Timeout | null = null;
  // ioredis's other path: a subscriber that failed to start has a refresh scheduled `delay` ms on.
  // A "-node" before then is that same subscriber ending; a refresh of ours would start a second
  // chain of refresh → new subscriber → failure, and chains add up (measured: 3 refreshes a
  // second, a tenth of a core, ten seconds into a shard loss).
  let refreshScheduledUntil = 0;
  emitter.on('subscriberConnectFailed', ({ delay }: { delay: number }) => {
    refreshScheduledUntil = Math.max(refreshScheduledUntil, Date.now() + delay);
  });
  const refresh = (): void =>
    cluster.refreshSlotsCache((error) => {
      if (error?.name === 'ClusterAllFailedError') cluster.disconnect(true);
    });
  const onNodeLost = (...args: unknown[]): void => {
    cluster.emit('-node', ...args);
    // One refresh is already coming (ours, or ioredis's): it reads the newest slot map anyway.
    if (pending || Date.now() < refreshScheduledUntil) return;
    const now = Date.now();
    burst = now - lastAt > backoff.quietMs ? 0 : burst + 1;
    lastAt = now;
    const delay = burst === 0 ? 0 : Math.min(backoff.initialDelayMs * 2 ** (burst - 1), backoff.maxDelayMs);
    if (delay === 0) {
      refresh();
      return;
    }
    pending = setTimeout(() => {
      pending = null;
      if (cluster.status === 'end') return;
      refresh();
    }, delay);
    pending.unref();
  };
  THROTTLED.add(onNodeLost);
  emitter.on('-node', onNodeLost);
  return true;
}

interface ClassicSubscriberInternals {
  subscriber?: { selectSubscriber?: () => void };
}

/**
 * Calls `listener` each time a Cluster's classic subscriber (the one connection that carries
 * `jobs:feed` and the liveness probe) is replaced. ioredis replaces it on its own when its node
 * leaves or its connection ends, and re-sends the SUBSCRIBEs on the new one; the Cluster never
 * closes, so nothing else says that messages published in between were lost. Returns false
 * when this ioredis has no such method to follow (an upgrade renamed it).
 */
export function onClassicSubscriberReplaced(cluster: Cluster, listener: () => void): boolean {
  const subscriber = (cluster as unknown as ClassicSubscriberInternals).subscriber;
  const select = subscriber?.selectSubscriber;
  if (!subscriber || typeof select !== 'function') return false;
  subscriber.selectSubscriber = function (this: unknown): void {
    select.call(this);
    listener();
  };
  return true;
}
