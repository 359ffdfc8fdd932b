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
 * a shard's sharded subscriber and the classic subscriber that carries the feed. Those are
 * recovered for what they carried only, by cluster-recovery.ts.
 */
import { Cluster } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { isJobStatus, type JobStatus } from '../../../shared/job.js';
import { eventsChannel, JOBS_FEED } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { ClusterSubscriberRecovery, type RecoveryHost } from './cluster-recovery.js';
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
  /** Cluster only: follows the connections the Cluster replaces without closing. */
  private readonly recovery: ClusterSubscriberRecovery | null = null;

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
    if (subscriber instanceof Cluster)
      this.recovery = new ClusterSubscriberRecovery(subscriber, this.recoveryHost(), metrics, logger);
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
          () => (created.servedBy = this.recovery?.nodeServing(slot) ?? null),
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
      this.recovery?.reconfirm(names);
    } else {
      for (const name of names) this.resyncChannel(name);
    }
    this.feedGap();
  }

  private resyncChannel(name: string): void {
    const channel = this.channels.get(name);
    if (channel) for (const listener of channel.listeners) listener.onResync();
  }

  private feedGap(): void {
    if (this.feedListeners.size > 0) this.metrics.feedGaps.inc();
    for (const listener of this.feedListeners) listener.onFeedGap();
  }

  /** What the Cluster recovery sees of this fan-out (cluster-recovery.ts). */
  private recoveryHost(): RecoveryHost {
    return {
      channels: this.channels,
      watchingFeed: () => this.feedReady !== null,
      reconnecting: () => this.lostConnection,
      resync: (name) => this.resyncChannel(name),
      feedGap: () => this.feedGap(),
    };
  }
}

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
