/**
 * What a Redis Cluster replaces under the fan-out without closing (fanout.ts keeps the rest):
 * ioredis rebuilds a shard's sharded subscriber when its connection ends or the shard's primary
 * moves, and re-selects the classic subscriber that carries the feed. Each loss is recovered for
 * what that connection carried only: the job channels its shard served are subscribed again
 * (with backoff while the shard does not answer) and then resynchronised from their lists; the
 * feed is subscribed again and its watchers told of a gap.
 */
import type { Cluster } from 'ioredis';
import { backoffDelay } from '../../../shared/backoff.js';
import { JOBS_FEED } from '../../../shared/keys.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { onClassicSubscriberReplaced } from '../redis/ioredis-internals.js';

/** A job channel as the recovery sees it: its slot, and the node whose connection confirmed it. */
export interface ShardedChannel {
  slot: number;
  /** null: not confirmed on any connection now. */
  servedBy: string | null;
}

/** What the recovery needs of the fan-out it works for. */
export interface RecoveryHost {
  /** Every channel with listeners, by name. */
  readonly channels: ReadonlyMap<string, ShardedChannel>;
  /** The feed is subscribed (someone watches it). */
  watchingFeed(): boolean;
  /** The whole subscriber is reconnecting: that path resynchronises everything itself. */
  reconnecting(): boolean;
  /** The channel's subscription is confirmed again: its listeners re-read what they missed. */
  resync(name: string): void;
  /** The feed is subscribed again: its watchers may have missed changes. */
  feedGap(): void;
}

/** Backoff for channels whose shard did not answer a resubscribe. */
const SHARD_RETRY = { initialMs: 500, maxMs: 10_000 };

export class ClusterSubscriberRecovery {
  /** Channels to SSUBSCRIBE again and then resynchronise, and the retry state. */
  private readonly unconfirmed = new Set<string>();
  private confirming = false;
  private confirmRetry: NodeJS.Timeout | null = null;
  private confirmFailures = 0;
  private feedConfirming = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly host: RecoveryHost,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.followClusterConnections(cluster);
  }

  /** The node that serves `slot` by the Cluster's current slot map. */
  nodeServing(slot: number): string | null {
    return this.cluster.slots[slot]?.[0] ?? null;
  }

  /**
   * Follows what ioredis replaces under a Cluster that stays up (see the module comment):
   * - `-node` with a node key: that shard's sharded subscriber ended; its channels are deaf
   *   until ioredis has a new connection subscribed;
   * - `subscribersReady`: a slot refresh rebuilt the sharded subscribers; a channel whose slot
   *   is now served by another node moved to a new connection (the old one was stopped quietly);
   * - the classic subscriber re-selected: the feed was not heard meanwhile.
   */
  private followClusterConnections(cluster: Cluster): void {
    cluster.on('-node', (_redis: unknown, nodeKey?: unknown) => {
      if (typeof nodeKey !== 'string') return; // a command connection, not a subscriber
      this.reconfirmWhere((channel) => channel.servedBy === nodeKey);
    });
    cluster.on('subscribersReady', () => {
      this.reconfirmWhere(
        (channel) => channel.servedBy !== null && channel.servedBy !== this.nodeServing(channel.slot),
      );
    });
    const following = onClassicSubscriberReplaced(cluster, () => {
      if (this.host.reconnecting() || !this.host.watchingFeed()) return; // the reconnect path, or no feed yet
      this.metrics.subscriberReplacements.inc({ connection: 'feed' });
      void this.confirmFeedAfterGap();
    });
    if (!following)
      this.logger.warn(
        'this ioredis hides when it replaces the feed subscriber: a feed gap may go unannounced',
      );
  }

  private reconfirmWhere(test: (channel: ShardedChannel) => boolean): void {
    const names: string[] = [];
    for (const [name, channel] of this.host.channels) if (test(channel)) names.push(name);
    if (names.length === 0) return;
    this.metrics.subscriberReplacements.inc({ connection: 'sharded' });
    this.logger.warn(
      { channels: names.length },
      'a Redis Cluster subscriber connection was replaced; resynchronising its jobs',
    );
    this.reconfirm(names);
  }

  /**
   * SSUBSCRIBEs `names` again and resynchronises each once Redis confirms it (from then on its
   * messages reach us; what was published before is read from the list). Channels whose shard
   * does not answer are asked again with backoff, all in one retry loop.
   */
  reconfirm(names: Iterable<string>): void {
    for (const name of names) {
      const channel = this.host.channels.get(name);
      if (!channel) continue;
      channel.servedBy = null;
      this.unconfirmed.add(name);
    }
    if (this.confirming) return; // the round under way asks again at once when it ends
    // Newly lost channels do not wait out the backoff of a shard that is still down (the PING
    // first keeps asking that shard again cheap); the backoff goes on from where it was.
    if (this.confirmRetry !== null) clearTimeout(this.confirmRetry);
    this.confirmRetry = null;
    void this.confirmUnconfirmed();
  }

  private async confirmUnconfirmed(): Promise<void> {
    this.confirming = true;
    const wanted = [...this.unconfirmed].filter((name) => this.host.channels.has(name));
    this.unconfirmed.clear();
    const nodeOf = new Map(
      wanted.map((name) => [name, this.nodeServing(this.host.channels.get(name)!.slot)]),
    );
    const answering = await this.answeringNodes(new Set(nodeOf.values()));
    const results = await Promise.allSettled(
      wanted.map((name) =>
        answering.has(nodeOf.get(name) ?? null)
          ? this.cluster.ssubscribe(name)
          : Promise.reject(new Error('its shard does not answer')),
      ),
    );
    let failed = 0;
    wanted.forEach((name, i) => {
      const channel = this.host.channels.get(name);
      if (!channel || this.unconfirmed.has(name)) return; // gone, or lost again meanwhile
      if (results[i]!.status === 'rejected') {
        failed++;
        this.unconfirmed.add(name);
        return;
      }
      channel.servedBy = this.nodeServing(channel.slot);
      this.host.resync(name);
    });
    this.confirming = false;
    if (this.unconfirmed.size === 0) {
      this.confirmFailures = 0;
      return;
    }
    // Only failures wait; channels lost again while this round ran are asked at once.
    const delay = failed > 0 ? backoffDelay(SHARD_RETRY, this.confirmFailures++) : 0;
    if (failed > 0)
      this.logger.warn(
        { channels: failed, retryInMs: Math.round(delay) },
        'Redis did not confirm some sharded subscriptions (a shard down?); retrying',
      );
    this.confirmRetry = setTimeout(() => {
      this.confirmRetry = null;
      void this.confirmUnconfirmed();
    }, delay);
    this.confirmRetry.unref();
  }

  /**
   * The nodes of `nodeKeys` that answer a PING on their own connection. An SSUBSCRIBE sent to a
   * shard that is down is retried by the Cluster with a slot refresh each time (16 of them), and
   * ioredis turns each refresh into another failed subscriber and more refreshes: a third of a
   * core while a shard was lost, measured. A PING to the node alone costs one refused connect.
   */
  private async answeringNodes(nodeKeys: Set<string | null>): Promise<Set<string | null>> {
    const nodes = this.cluster.nodes('all');
    const answering = new Set<string | null>();
    await Promise.all(
      [...nodeKeys].map(async (nodeKey) => {
        const node = nodes.find((n) => `${n.options.host}:${n.options.port}` === nodeKey);
        if (!node) return;
        try {
          await node.ping(); // the connection's commandTimeout bounds the wait
          answering.add(nodeKey);
        } catch {
          // down, or not answering: asked again with backoff
        }
      }),
    );
    return answering;
  }

  /** The feed's connection was replaced: confirm the feed on the new one, then announce the gap. */
  private async confirmFeedAfterGap(): Promise<void> {
    if (!this.host.watchingFeed() || this.feedConfirming) return;
    this.feedConfirming = true;
    try {
      for (let failures = 0; ; failures++) {
        try {
          await this.cluster.subscribe(JOBS_FEED);
          break;
        } catch {
          if (this.cluster.status === 'end') return; // shut down
          await new Promise((resolve) => setTimeout(resolve, backoffDelay(SHARD_RETRY, failures)).unref());
        }
      }
    } finally {
      this.feedConfirming = false;
    }
    this.logger.warn('the Redis feed subscriber was replaced; feed watchers told of a gap');
    this.host.feedGap();
  }
}
