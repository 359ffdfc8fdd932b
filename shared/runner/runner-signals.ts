/**
 * What a runner hears about its job while it works, for JobPublisher: it says it is alive with
 * `jobstream_heartbeat` every interval (the gateway's reaper fails a job whose runner stays
 * silent), learns of a cancel at once from `job:{J}:control` (a subscriber connection of its own)
 * or from a heartbeat's answer should that message be missed, and learns that the job was
 * finished without it (the reaper) when a heartbeat is refused.
 */
import { Cluster } from 'ioredis';
import { JobstreamError } from '../errors.js';
import { controlChannel } from '../keys.js';
import type { RedisConnection } from '../redis/client.js';
import { heartbeat } from '../redis/functions.js';

export interface RunnerSignalHandlers {
  /** Someone asked for the job to stop; called once. */
  cancel(requestedAt: number): void;
  /** The job was finished by someone else; called once, and the heartbeat stops. */
  ended(error: JobstreamError): void;
  /** A heartbeat failed on a Redis error; the next one retries. */
  retry(error: Error): void;
}

export class RunnerSignals {
  private timer: NodeJS.Timeout | null = null;
  private control: RedisConnection | null = null;
  private cancelRequestedAt = 0;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly jobId: string,
    private readonly handlers: RunnerSignalHandlers,
  ) {}

  /** Starts the heartbeat (alive from this moment) and listens for a cancel. */
  static async start(
    redis: RedisConnection,
    jobId: string,
    heartbeatMs: number,
    handlers: RunnerSignalHandlers,
  ): Promise<RunnerSignals> {
    const signals = new RunnerSignals(redis, jobId, handlers);
    signals.timer = setInterval(() => void signals.beat(), heartbeatMs).unref();
    await signals.listenForCancel();
    return signals;
  }

  /** The time a cancel was asked for, 0 when none was. */
  get cancelRequested(): number {
    return this.cancelRequestedAt;
  }

  /** One heartbeat now; a failure is retried by the next one, a finished job stops them. */
  async beat(): Promise<void> {
    if (this.timer === null) return;
    try {
      const requestedAt = await heartbeat(this.redis, this.jobId);
      if (requestedAt > 0) this.cancelRequestedNow(requestedAt);
    } catch (error) {
      if (error instanceof JobstreamError) {
        // Finished (or gone) without the runner: nothing to keep alive, and the runner must know.
        if (this.timer === null) return;
        this.stop();
        this.handlers.ended(error);
      } else this.handlers.retry(error as Error);
    }
  }

  /** Stops the heartbeat and the cancel listener (the job has ended, or the runner closes). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.control?.disconnect();
    this.control = null;
  }

  private async listenForCancel(): Promise<void> {
    // disableClientInfo: see gateway/src/redis/connections.ts (redis/ioredis#2037). In a Cluster
    // the control channel is sharded (SPUBLISH), so the listener subscribes on the slot's shard.
    const sharded = this.redis instanceof Cluster;
    const control: RedisConnection =
      this.redis instanceof Cluster
        ? this.redis.duplicate(undefined, {
            lazyConnect: true,
            shardedSubscribers: true,
            redisOptions: { ...this.redis.options.redisOptions, disableClientInfo: true },
          })
        : this.redis.duplicate({ lazyConnect: true, disableClientInfo: true });
    control.on('error', () => undefined); // the heartbeat still carries a cancel if this one fails
    control.on(sharded ? 'smessage' : 'message', (_channel: string, message: string) => {
      try {
        const request = JSON.parse(message) as { type?: unknown; requestedAt?: unknown };
        if (request.type === 'cancel') this.cancelRequestedNow(Number(request.requestedAt) || Date.now());
      } catch {
        // not a control message of ours
      }
    });
    try {
      await control.connect();
      if (sharded) await control.ssubscribe(controlChannel(this.jobId));
      else await control.subscribe(controlChannel(this.jobId));
      this.control = control;
    } catch {
      control.disconnect(); // heartbeats alone will carry the cancel
    }
  }

  private cancelRequestedNow(requestedAt: number): void {
    if (this.cancelRequestedAt !== 0 || this.timer === null) return;
    this.cancelRequestedAt = requestedAt;
    this.handlers.cancel(requestedAt);
  }
}
