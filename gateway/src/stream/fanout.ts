/**
 * Fan-out from Redis pub/sub to subscriptions.
 *
 * One Redis subscription per job per process, reference-counted across every socket that
 * watches the job and dropped when the last one leaves. A message is classified once
 * (output-frames.ts) and the same bytes are handed to every listener. `jobs:feed` is one more
 * subscription, taken when the first listener watches it.
 *
 * When the subscriber connection comes back after an outage — or after the liveness check tore
 * down a deaf one — messages published meanwhile are lost to pub/sub: every channel is
 * re-confirmed, then every job listener is told to resynchronise from its list (`onResync`) and
 * every feed listener that it may have missed changes (`onFeedGap`).
 *
 * On a Redis Cluster, ioredis also replaces single connections under a Cluster that never closes:
 * a shard's sharded subscriber (its connection ended, or the shard's primary moved) and the
 * classic subscriber that carries the feed. Each is treated the same way, for what it carried
 * only: the job channels served by that shard's connection, or the feed.
 */
import { Cluster } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { isJobStatus, type JobStatus } from '../../../shared/job.js';
import { backoffDelay } from '../../../shared/backoff.js';
import { eventsChannel, JOBS_FEED } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { onClassicSubscriberReplaced } from '../redis/ioredis-internals.js';
import { readChannelMessage, type ChannelMessage } from './output-frames.js';

/**
 * Receives one job's messages. Contract: `onMessage` is called for every message published on
 * the job's channel after `Fanout.add` resolved, in publication order, synchronously from the
 * subscriber's socket; it must not throw and must not block. `onResync` means messages may have
 * been lost since the last one: the listener must re-read what it needs from Redis. A listener
 * hears nothing after `Fanout.remove`.
 */
export interface JobListener {
  onMessage(message: ChannelMessage): void;
  onResync(): void;
}

/** What the feed tells about a job (the rest stays in the frame's bytes). */
export interface FeedJob {
  id: string;
  owner: string;
  status: JobStatus;
  createdAt: number;
}

/**
 * Receives the jobs feed. Contract: `onFeedFrame` gets every `job` frame published after
 * `watchFeed` resolved, parsed once for all listeners, with the frame's bytes to forward as they
 * are; `onFeedGap` says frames may have been missed (the subscriber reconnected). Neither may
 * throw or block.
 */
export interface FeedListener {
  onFeedFrame(job: FeedJob, bytes: Buffer): void;
  onFeedGap(): void;
}

interface JobChannel {
  jobId: string;
  listeners: Set<JobListener>;
  ready: Promise<void>;
  /** Cluster only: the channel's slot, and the node whose connection confirmed it (null: not now). */
  slot: number;
  servedBy: string | null;
}

export class Fanout {
  private readonly channels = new Map<string, JobChannel>();
  private readonly feedListeners = new Set<FeedListener>();
  private feedReady: Promise<void> | null = null;
  private readonly sharded: boolean;
  /** The subscriber connection dropped: pub/sub messages may have been missed. */
  private lostConnection = false;
  /** Cluster only: channels to SSUBSCRIBE again and then resynchronise, and the retry state. */
  private readonly unconfirmed = new Set<string>();
  private confirming = false;
  private confirmRetry: NodeJS.Timeout | null = null;
  private confirmFailures = 0;
  private feedConfirming = false;

  constructor(
    private readonly subscriber: RedisConnection,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.sharded = subscriber instanceof Cluster;
    const onMessage = (channel: Buffer, message: Buffer): void => this.dispatch(channel.toString(), message);
    // jobs:feed always travels by classic pub/sub; in a cluster, job events are sharded.
    subscriber.on('messageBuffer', onMessage);
    if (this.sharded) subscriber.on('smessageBuffer', onMessage);
    subscriber.on('close', () => (this.lostConnection = true));
    subscriber.on('ready', () => {
      if (!this.lostConnection) return;
      this.lostConnection = false;
      void this.resyncAll();
    });
    if (subscriber instanceof Cluster) this.followClusterConnections(subscriber);
  }

  /**
   * Registers a listener for a job; resolves once Redis confirms the subscription. Rejects when
   * Redis does not confirm it (within the connection's command timeout): the listener is then
   * not registered.
   */
  async add(jobId: string, listener: JobListener): Promise<void> {
    const name = eventsChannel(jobId);
    let channel = this.channels.get(name);
    if (!channel) {
      const ready = (this.sharded ? this.subscriber.ssubscribe(name) : this.subscriber.subscribe(name)).then(
        () => undefined,
      );
      const slot = this.sharded ? calculateSlot(name) : 0;
      const created: JobChannel = { jobId, listeners: new Set(), ready, slot, servedBy: null };
      if (this.sharded)
        void ready.then(
          () => (created.servedBy = this.nodeServing(slot)),
          () => undefined,
        );
      channel = created;
      this.channels.set(name, created);
      this.metrics.watchedJobs.set(this.channels.size);
      ready.catch((error: unknown) => {
        // Unconfirmed: forget the channel, so the next subscribe asks Redis again.
        this.logger.warn({ err: (error as Error).message, jobId }, 'Redis did not confirm a subscription');
        if (this.channels.get(name) !== created) return;
        this.channels.delete(name);
        this.metrics.watchedJobs.set(this.channels.size);
        this.unsubscribe(name);
      });
    }
    channel.listeners.add(listener);
    try {
      await channel.ready;
    } catch (error) {
      channel.listeners.delete(listener);
      throw error;
    }
  }

  remove(jobId: string, listener: JobListener): void {
    const name = eventsChannel(jobId);
    const channel = this.channels.get(name);
    if (!channel || !channel.listeners.delete(listener) || channel.listeners.size > 0) return;
    this.channels.delete(name);
    this.metrics.watchedJobs.set(this.channels.size);
    this.unsubscribe(name);
  }

  /** Adds a feed listener; resolves once Redis confirms the feed subscription (rejects if it does not). */
  async watchFeed(listener: FeedListener): Promise<void> {
    this.feedListeners.add(listener);
    const ready = (this.feedReady ??= this.subscriber.subscribe(JOBS_FEED).then(() => undefined));
    try {
      await ready;
    } catch (error) {
      if (this.feedReady === ready) this.feedReady = null; // the next watch asks Redis again
      this.feedListeners.delete(listener);
      throw error;
    }
  }

  unwatchFeed(listener: FeedListener): void {
    this.feedListeners.delete(listener);
  }

  /** Listeners over every job (for tests and leak checks). */
  get listenerCount(): number {
    let count = 0;
    for (const channel of this.channels.values()) count += channel.listeners.size;
    return count;
  }

  private unsubscribe(name: string): void {
    // Commands on one connection run in order: a later SUBSCRIBE of the same job still wins.
    (this.sharded ? this.subscriber.sunsubscribe(name) : this.subscriber.unsubscribe(name)).catch(
      () => undefined,
    );
  }

  private dispatch(channelName: string, bytes: Buffer): void {
    if (channelName === JOBS_FEED) {
      this.dispatchFeed(bytes);
      return;
    }
    const channel = this.channels.get(channelName);
    if (!channel) return;
    const message = readChannelMessage(bytes, channel.jobId);
    if (!message) {
      this.metrics.rejections.inc({ reason: 'foreign_message' });
      this.logger.warn(
        { jobId: channel.jobId },
        'ignored a message not in the jobstream.v1 form for this job',
      );
      return;
    }
    for (const listener of channel.listeners) listener.onMessage(message);
    if (message.kind === 'output' && Number.isFinite(message.ts)) {
      this.metrics.publishToSendSeconds.observe(Math.max(0, Date.now() - message.ts) / 1000);
    }
  }

  private dispatchFeed(bytes: Buffer): void {
    if (this.feedListeners.size === 0) return;
    const job = readFeedJob(bytes);
    if (!job) {
      this.logger.warn('ignored a jobs:feed message not in the jobstream.v1 form');
      return;
    }
    for (const listener of this.feedListeners) listener.onFeedFrame(job, bytes);
  }

  /**
   * After a reconnect: subscribe again (ours alone on a standalone Redis, where ioredis's own
   * re-subscribe is off: redis-connections.ts) and wait for Redis to confirm, so that from here
   * on every message reaches us; only then let every listener re-read what it missed.
   */
  private async resyncAll(): Promise<void> {
    this.logger.warn(
      { jobs: this.channels.size, feedWatchers: this.feedListeners.size },
      'Redis subscriber reconnected; resynchronising from the lists',
    );
    const names = [...this.channels.keys()];
    try {
      if (this.feedReady) await this.subscriber.subscribe(JOBS_FEED);
      // One connection: a failure means the connection is bad; all or nothing.
      if (names.length > 0 && !this.sharded) await this.subscriber.subscribe(...names);
    } catch (error) {
      // Unconfirmed channels would stay deaf: reconnect, and this runs again on 'ready'.
      this.logger.error({ err: (error as Error).message }, 'resubscribe failed; reconnecting the subscriber');
      this.metrics.redisReconnects.inc({ connection: 'subscriber' });
      this.lostConnection = true;
      this.subscriber.disconnect(true);
      return;
    }
    if (this.sharded) {
      // Per shard: a shard that is down must not keep every other job deaf (a reconnect of the
      // whole Cluster would fail on it again and again). Confirmed channels resynchronise now;
      // the others are asked again with backoff until their shard answers.
      this.reconfirm(names);
    } else {
      for (const name of names) this.resyncChannel(name);
    }
    if (this.feedListeners.size > 0) this.metrics.feedGaps.inc();
    for (const listener of this.feedListeners) listener.onFeedGap();
  }

  private resyncChannel(name: string): void {
    const channel = this.channels.get(name);
    if (channel) for (const listener of channel.listeners) listener.onResync();
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
      if (this.lostConnection || !this.feedReady) return; // the reconnect path, or no feed yet
      this.metrics.subscriberReplacements.inc({ connection: 'feed' });
      void this.confirmFeedAfterGap();
    });
    if (!following)
      this.logger.warn(
        'this ioredis hides when it replaces the feed subscriber: a feed gap may go unannounced',
      );
  }

  /** The node that serves `slot` by the Cluster's current slot map. */
  private nodeServing(slot: number): string | null {
    return (this.subscriber as Cluster).slots[slot]?.[0] ?? null;
  }

  private reconfirmWhere(test: (channel: JobChannel) => boolean): void {
    const names: string[] = [];
    for (const [name, channel] of this.channels) if (test(channel)) names.push(name);
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
  private reconfirm(names: Iterable<string>): void {
    for (const name of names) {
      const channel = this.channels.get(name);
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
    const wanted = [...this.unconfirmed].filter((name) => this.channels.has(name));
    this.unconfirmed.clear();
    const nodeOf = new Map(wanted.map((name) => [name, this.nodeServing(this.channels.get(name)!.slot)]));
    const answering = await this.answeringNodes(new Set(nodeOf.values()));
    const results = await Promise.allSettled(
      wanted.map((name) =>
        answering.has(nodeOf.get(name) ?? null)
          ? this.subscriber.ssubscribe(name)
          : Promise.reject(new Error('its shard does not answer')),
      ),
    );
    let failed = 0;
    wanted.forEach((name, i) => {
      const channel = this.channels.get(name);
      if (!channel || this.unconfirmed.has(name)) return; // gone, or lost again meanwhile
      if (results[i]!.status === 'rejected') {
        failed++;
        this.unconfirmed.add(name);
        return;
      }
      channel.servedBy = this.nodeServing(channel.slot);
      this.resyncChannel(name);
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
    const nodes = (this.subscriber as Cluster).nodes('all');
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
    if (!this.feedReady || this.feedConfirming) return;
    this.feedConfirming = true;
    try {
      for (let failures = 0; ; failures++) {
        try {
          await this.subscriber.subscribe(JOBS_FEED);
          break;
        } catch {
          if (this.subscriber.status === 'end') return; // shut down
          await new Promise((resolve) => setTimeout(resolve, backoffDelay(SHARD_RETRY, failures)).unref());
        }
      }
    } finally {
      this.feedConfirming = false;
    }
    this.logger.warn(
      { feedWatchers: this.feedListeners.size },
      'the Redis feed subscriber was replaced; feed watchers told of a gap',
    );
    if (this.feedListeners.size > 0) this.metrics.feedGaps.inc();
    for (const listener of this.feedListeners) listener.onFeedGap();
  }
}

/** Backoff for channels whose shard did not answer a resubscribe. */
const SHARD_RETRY = { initialMs: 500, maxMs: 10_000 };

/** The job of a `{"type":"job","job":{…}}` feed frame, or null for anything else. */
function readFeedJob(bytes: Buffer): FeedJob | null {
  let job: unknown;
  try {
    job = (JSON.parse(bytes.toString('utf8')) as { job?: unknown }).job;
  } catch {
    return null;
  }
  if (typeof job !== 'object' || job === null) return null;
  const { id, owner, status, createdAt } = job as Record<string, unknown>;
  if (typeof id !== 'string' || typeof owner !== 'string' || typeof createdAt !== 'number') return null;
  if (typeof status !== 'string' || !isJobStatus(status)) return null;
  return { id, owner, status, createdAt };
}
