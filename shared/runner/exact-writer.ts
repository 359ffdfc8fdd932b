/**
 * The one writer of a job's lines and status (JobPublisher's Redis side): each batch is appended
 * exactly once, and each seq keeps its content, through lost replies, reconnects and failovers.
 *
 * - Its connection never resends a command (writer-connection.ts); after any connection loss it
 *   reads the job's `seq` (on whichever node owns the slot now) before the next append, and
 *   resends a batch only if it did not land.
 * - When a promoted replica ends before lines the old primary acknowledged, those lines are
 *   appended again first (acked-lines.ts), so they get the same seqs; lines older than the window
 *   cannot be, and a stderr line in the job says which seqs were lost.
 * - Redis errors are retried with backoff (a library the node lost is loaded again); refusals by
 *   the library (JobstreamError: the job ended or vanished) are not.
 * This assumes it is the job's only writer, which is how runners work.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AckedLines } from './acked-lines.js';
import { backoffDelay } from '../backoff.js';
import { JobstreamError } from '../errors.js';
import type { JobMetadata, JobStatus } from '../job.js';
import { jobKey } from '../keys.js';
import type { RedisConnection } from '../redis/client.js';
import { appendLines, setJobStatus, type LineToAppend } from '../redis/functions.js';
import { isFunctionMissing, loadLibraryWhereMissing } from '../redis/library.js';
import { watchConnectionLoss } from '../redis/writer-connection.js';

export interface ExactWriterOptions {
  retryMinMs: number;
  retryMaxMs: number;
  ackedWindowLines: number;
  ackedWindowBytes: number;
}

/** What the writer tells its publisher. */
export interface ExactWriterEvents {
  /** A Redis error being retried through (for logs). */
  retry(error: Error): void;
  /** The library refused a batch (the job ended or vanished): its lines are not stored. */
  refused(error: JobstreamError, lines: number): void;
  /** A failover lost lines older than the acked window: those seqs will hold other lines. */
  lost(fromSeq: number, toSeq: number): void;
}

export class ExactWriter {
  /** Lines to append again (a failover lost them) before anything else. */
  private resend: LineToAppend[] = [];
  private readonly acked: AckedLines;
  /** A connection dropped since the last append: check the job's seq before the next one. */
  private suspect = false;
  /** The last Redis call failed on a connection error (Redis is unreachable, not slow). */
  unreachable = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly jobId: string,
    /** The job's seq after the last batch this writer knows landed. */
    private lastSeq: number,
    private readonly options: ExactWriterOptions,
    private readonly events: ExactWriterEvents,
  ) {
    this.acked = new AckedLines(options.ackedWindowLines, options.ackedWindowBytes);
    watchConnectionLoss(redis, () => (this.suspect = true));
  }

  /** Lines a failover lost that wait to be appended again. */
  get resending(): number {
    return this.resend.length;
  }

  /** Up to `max` lines to append again before anything new, or none. */
  takeResend(max: number): LineToAppend[] {
    return this.resend.splice(0, max);
  }

  /**
   * With nothing to send: if a connection dropped, checks whether lines acknowledged before it
   * were lost (a failover), so they are rebuilt before a status change puts anything after them.
   */
  async checkAfterLoss(): Promise<void> {
    if (!this.suspect) return;
    this.suspect = false;
    const seqNow = await this.retrying(() => this.readSeq());
    if (seqNow < this.lastSeq) this.rebuildAfter(seqNow, []);
  }

  /** Appends `batch` exactly once (or hands it to `resend` behind lines a failover lost). */
  async append(batch: LineToAppend[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const seqBefore = this.lastSeq;
      if (this.suspect) {
        // A connection dropped (a lost reply, a failover): Redis's seq, on whichever node owns
        // the slot now, says whether the last attempt landed and whether acknowledged lines
        // were lost with an old primary.
        this.suspect = false;
        const seqNow = await this.retrying(() => this.readSeq());
        if (attempt > 0 && seqNow >= seqBefore + batch.length) {
          this.lastSeq = seqNow;
          this.acked.record(batch, seqNow);
          return;
        }
        if (seqNow < seqBefore) {
          this.rebuildAfter(seqNow, batch);
          return;
        }
      }
      try {
        const seq = await appendLines(this.redis, this.jobId, batch);
        this.lastSeq = seq;
        this.unreachable = false;
        this.acked.record(batch, seq);
        return;
      } catch (error) {
        if (error instanceof JobstreamError) {
          this.events.refused(error, batch.length);
          return;
        }
        this.suspect = true;
        this.retryingThrough(error as Error);
        await this.reloadLibraryIfMissing(error);
      }
      await sleep(this.backoff(attempt));
    }
  }

  /**
   * Sets the status (and metadata); a lost reply is simply retried (a status to itself is legal),
   * each time after `flush`, so lines a failover lost are rebuilt before the status.
   */
  async setStatus(status: JobStatus, fields: JobMetadata, flush: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await flush();
      try {
        this.lastSeq = await setJobStatus(this.redis, this.jobId, status, fields);
        return;
      } catch (error) {
        if (error instanceof JobstreamError) throw error;
        this.suspect = true;
        this.retryingThrough(error as Error);
        await this.reloadLibraryIfMissing(error);
        await sleep(this.backoff(attempt));
      }
    }
  }

  /** A Redis call failed on the connection: until one succeeds, Redis counts as unreachable. */
  retryingThrough(error: Error): void {
    this.unreachable = true;
    this.events.retry(error);
  }

  /**
   * Redis now ends at `seqNow`, before lines it had acknowledged: append those again (same
   * order, so the same seqs), then `batch`, then whatever else was waiting to be resent.
   */
  private rebuildAfter(seqNow: number, batch: LineToAppend[]): void {
    const lost = this.acked.after(seqNow);
    if (lost) {
      this.resend = [...lost, ...batch, ...this.resend];
    } else {
      // Older than the window: those seqs will hold other lines. Say so in the job itself.
      this.events.lost(seqNow + 1, this.lastSeq);
      const notice: LineToAppend = {
        stream: 'stderr',
        line: `[jobstream] lines ${seqNow + 1}–${this.lastSeq} were lost in a Redis failover`,
      };
      this.resend = [notice, ...batch, ...this.resend];
    }
    this.lastSeq = seqNow;
  }

  /** The node that owns the job lost the library (and no gateway has reloaded it yet): load it. */
  private async reloadLibraryIfMissing(error: unknown): Promise<void> {
    if (!isFunctionMissing(error)) return;
    await loadLibraryWhereMissing(this.redis).catch((loadError: unknown) =>
      this.events.retry(loadError as Error),
    );
  }

  private async readSeq(): Promise<number> {
    return Number((await this.redis.hget(jobKey(this.jobId), 'seq')) ?? 0);
  }

  /** Runs `operation` until Redis answers; JobstreamErrors (refusals) are thrown, not retried. */
  private async retrying<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await operation();
        this.unreachable = false;
        return result;
      } catch (error) {
        if (error instanceof JobstreamError) throw error;
        this.retryingThrough(error as Error);
        await sleep(this.backoff(attempt));
      }
    }
  }

  private backoff(attempt: number): number {
    const { retryMinMs, retryMaxMs } = this.options;
    return backoffDelay({ initialMs: retryMinMs, maxMs: retryMaxMs }, attempt);
  }
}
