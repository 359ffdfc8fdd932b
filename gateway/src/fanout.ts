/**
 * Fan-out from Redis pub/sub to subscriptions.
 *
 * One Redis subscription per job per process, reference-counted across every socket that
 * watches the job and dropped when the last one leaves. A message is classified once
 * (output-frames.ts) and the same bytes are handed to every listener. `jobs:feed` is one more
 * subscription, taken when the first socket watches it.
 *
 * When the subscriber connection comes back after an outage, messages published meanwhile are
 * lost to pub/sub, so every listener is told to resynchronise from the list (`onResync`).
 */
import { Cluster, type Redis } from 'ioredis';
import { eventsChannel, JOBS_FEED } from '../../shared/keys.js';
import type { Logger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';
import { readChannelMessage, type ChannelMessage } from './output-frames.js';

export interface JobListener {
  onMessage(message: ChannelMessage): void;
  onResync(): void;
}

export interface FeedListener {
  onFeedFrame(owner: string, bytes: Buffer): void;
}

interface JobChannel {
  jobId: string;
  listeners: Set<JobListener>;
  ready: Promise<void>;
}

export class Fanout {
  private readonly channels = new Map<string, JobChannel>();
  private readonly feedListeners = new Set<FeedListener>();
  private feedReady: Promise<void> | null = null;
  private readonly sharded: boolean;
  /** The subscriber connection dropped: pub/sub messages may have been missed. */
  private lostConnection = false;

  constructor(
    private readonly subscriber: Redis | Cluster,
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
  }

  /** Registers a listener for a job; resolves once Redis confirms the subscription. */
  async add(jobId: string, listener: JobListener): Promise<void> {
    const name = eventsChannel(jobId);
    let channel = this.channels.get(name);
    if (!channel) {
      const ready = (this.sharded ? this.subscriber.ssubscribe(name) : this.subscriber.subscribe(name)).then(
        () => undefined,
      );
      channel = { jobId, listeners: new Set(), ready };
      this.channels.set(name, channel);
      this.metrics.watchedJobs.set(this.channels.size);
      ready.catch((error: unknown) => this.logger.error({ err: error, jobId }, 'subscribe failed'));
    }
    channel.listeners.add(listener);
    await channel.ready;
  }

  remove(jobId: string, listener: JobListener): void {
    const name = eventsChannel(jobId);
    const channel = this.channels.get(name);
    if (!channel || !channel.listeners.delete(listener) || channel.listeners.size > 0) return;
    this.channels.delete(name);
    this.metrics.watchedJobs.set(this.channels.size);
    // Commands on one connection run in order: a later SUBSCRIBE of the same job still wins.
    (this.sharded ? this.subscriber.sunsubscribe(name) : this.subscriber.unsubscribe(name)).catch(
      () => undefined,
    );
  }

  async watchFeed(listener: FeedListener): Promise<void> {
    this.feedListeners.add(listener);
    this.feedReady ??= this.subscriber.subscribe(JOBS_FEED).then(() => undefined);
    await this.feedReady;
  }

  unwatchFeed(listener: FeedListener): void {
    this.feedListeners.delete(listener);
  }

  /** Jobs with a Redis subscription in this process. */
  get jobCount(): number {
    return this.channels.size;
  }

  private dispatch(channelName: string, bytes: Buffer): void {
    if (channelName === JOBS_FEED) {
      this.dispatchFeed(bytes);
      return;
    }
    const channel = this.channels.get(channelName);
    if (!channel) return;
    const message = readChannelMessage(bytes);
    if (!message) {
      this.logger.warn({ jobId: channel.jobId }, 'ignored a message not in the jobstream.v1 form');
      return;
    }
    for (const listener of channel.listeners) listener.onMessage(message);
    if (message.kind === 'output' && Number.isFinite(message.ts)) {
      this.metrics.publishToSendSeconds.observe(Math.max(0, Date.now() - message.ts) / 1000);
    }
  }

  private dispatchFeed(bytes: Buffer): void {
    if (this.feedListeners.size === 0) return;
    let owner: unknown;
    try {
      owner = (JSON.parse(bytes.toString('utf8')) as { job?: { owner?: unknown } }).job?.owner;
    } catch {
      owner = undefined;
    }
    if (typeof owner !== 'string') return;
    for (const listener of this.feedListeners) listener.onFeedFrame(owner, bytes);
  }

  /**
   * After a reconnect: subscribe again (ioredis resubscribes too; a repeated SUBSCRIBE is
   * harmless) and wait for Redis to confirm, so that from here on every message reaches us;
   * only then let every listener re-read what it missed from the lists.
   */
  private async resyncAll(): Promise<void> {
    this.logger.warn(
      { jobs: this.channels.size },
      'Redis subscriber reconnected; resynchronising from the lists',
    );
    const names = [...this.channels.keys()];
    try {
      if (names.length > 0)
        await (this.sharded ? this.subscriber.ssubscribe(...names) : this.subscriber.subscribe(...names));
    } catch (error) {
      this.logger.error({ err: error }, 'resubscribe failed; the next reconnect retries');
      this.lostConnection = true;
      return;
    }
    for (const channel of this.channels.values())
      for (const listener of channel.listeners) listener.onResync();
  }
}
