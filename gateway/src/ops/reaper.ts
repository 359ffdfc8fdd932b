/**
 * The reaper (docs/runners.md "Liveness and cancel"): finishes a `queued` or `running` job whose runner
 * has gone silent for longer than JOBSTREAM_RUNNER_TIMEOUT_S as `failed` / "runner lost", and one
 * whose cancel was not acted on within JOBSTREAM_CANCEL_GRACE_S as `cancelled`.
 *
 * - Exactly one gateway process acts at a time: it holds a lease in Redis (SET NX PX, renewed
 *   only by its holder). When the holder dies, another process takes over once the lease expires.
 * - Exactly once: `jobstream_reap` re-checks and finishes the job in one atomic call, so a runner
 *   finishing at the same moment wins and nothing is announced twice.
 * - It reads `jobs:active` (unfinished jobs), so its cost grows with the unfinished jobs only. Every
 *   process keeps that set honest from the feed: a job seen created is added, a finished one removed.
 * - With an archive, a job that leaves `jobs:active` enters `jobs:unarchived`, the archiver's queue
 *   (a job that finished while no gateway ran leaves it in the reaper's round, so it is queued too).
 */
import { randomUUID } from 'node:crypto';
import { JobstreamError } from '../../../shared/errors.js';
import { isTerminal } from '../../../shared/job.js';
import { JOBS_ACTIVE, REAPER_LEASE } from '../../../shared/keys.js';
import { JOBS_UNARCHIVED } from '../archive/chunks.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import { reapJob, releaseLease, renewLease } from '../../../shared/redis/functions.js';
import type { FeedJob, FeedListener } from '../stream/fanout.js';
import type { Logger } from './logger.js';
import { repeatAfterEach, type Repeating } from './repeat.js';
import type { GatewayMetrics } from './metrics.js';

export interface ReaperOptions {
  runnerTimeoutS: number;
  cancelGraceS: number;
  intervalMs: number;
  /** An archive is configured: finished jobs are queued for it. */
  archive?: boolean;
}

/** Jobs checked at once. */
const BATCH = 200;

export class Reaper implements FeedListener {
  /** This process, as written in the lease. */
  readonly holderId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private holding = false;
  private repeating: Repeating | null = null;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: ReaperOptions,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.metrics.reaperLeaseHeld.set({ holder: this.holderId }, 0);
  }

  /** The lease outlives three missed rounds, so a slow round never hands it over by mistake. */
  private get leaseMs(): number {
    return Math.max(3 * this.options.intervalMs, 1000);
  }

  start(): void {
    this.repeating = repeatAfterEach(this.options.intervalMs, () => this.round(), { runNow: true });
  }

  private get stopped(): boolean {
    return this.repeating?.stopped ?? false;
  }

  /** Stops reaping and gives the lease up at once, so another process takes over without waiting. */
  async stop(): Promise<void> {
    await this.repeating?.stop();
    if (this.holding) {
      await releaseLease(this.redis, REAPER_LEASE, this.holderId).catch(() => undefined);
      this.setHolding(false);
    }
  }

  get isLeaseHolder(): boolean {
    return this.holding;
  }

  // ---- FeedListener: keep jobs:active honest ------------------------------------------------

  onFeedFrame(job: FeedJob): void {
    const update = isTerminal(job.status)
      ? this.redis.zrem(JOBS_ACTIVE, job.id).then(() => this.queueForArchive([job.id]))
      : this.redis.zadd(JOBS_ACTIVE, 'NX', job.createdAt, job.id);
    update.catch((error: unknown) =>
      this.logger.warn({ err: (error as Error).message, jobId: job.id }, 'could not update jobs:active'),
    );
  }

  onFeedGap(): void {}

  /** Finished jobs into the archiver's queue, scored by (about) their finish time. */
  private async queueForArchive(ids: string[]): Promise<void> {
    if (!this.options.archive || ids.length === 0) return;
    const now = Date.now();
    await this.redis.zadd(JOBS_UNARCHIVED, 'NX', ...ids.flatMap((id) => [now, id]));
  }

  // ---- one round -----------------------------------------------------------------------------

  private async round(): Promise<void> {
    try {
      if (!(await this.holdLease())) return;
      await this.reapAll();
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'reaper round failed; the next one retries');
    }
  }

  private async holdLease(): Promise<boolean> {
    const leaseMs = this.leaseMs;
    // Taken when free, extended when ours, never another's (jobstream_lease_renew).
    const held = await renewLease(this.redis, REAPER_LEASE, this.holderId, leaseMs);
    if (this.holding && !held) this.logger.warn({ holder: this.holderId }, 'the reaper lease was lost');
    if (!this.holding && held)
      this.logger.info({ holder: this.holderId }, 'this process now reaps vanished runners');
    this.setHolding(held);
    return held;
  }

  private setHolding(held: boolean): void {
    this.holding = held;
    this.metrics.reaperLeaseHeld.set({ holder: this.holderId }, held ? 1 : 0);
  }

  private async reapAll(): Promise<void> {
    const limits = {
      runnerTimeoutMs: this.options.runnerTimeoutS * 1000,
      cancelGraceMs: this.options.cancelGraceS * 1000,
    };
    // One read of the ids (the set holds unfinished jobs only), then the checks in batches.
    const ids = await this.redis.zrange(JOBS_ACTIVE, 0, -1);
    for (let from = 0; from < ids.length && !this.stopped; from += BATCH) {
      const batch = ids.slice(from, from + BATCH);
      const outcomes = await Promise.all(
        batch.map((id) =>
          reapJob(this.redis, id, limits).catch((error: unknown) => {
            if (JobstreamError.fromRedis(error)?.code === 'NOT_FOUND') return 'gone' as const;
            throw error;
          }),
        ),
      );
      const done: string[] = [];
      outcomes.forEach((outcome, i) => {
        const id = batch[i]!;
        if (outcome === 'alive') return;
        done.push(id);
        if (outcome === 'failed' || outcome === 'cancelled') {
          this.metrics.reaperFinished.inc({ status: outcome });
          this.logger.warn(
            { jobId: id, status: outcome },
            outcome === 'failed' ? 'runner lost: job failed' : 'cancel not acted on: job cancelled',
          );
        }
      });
      if (done.length === 0) continue;
      await this.queueForArchive(done);
      await this.redis.zrem(JOBS_ACTIVE, ...done);
    }
  }
}
