/**
 * JobPublisher: what a TypeScript runner uses to put a job's output into Redis.
 *
 * Contract:
 * - Lines are appended in the order written, in batches: a batch closes after `lingerMs` or at
 *   `maxBatchLines`/`maxBatchBytes`, and goes out as one `FCALL jobstream_append`.
 * - A batch is never appended twice. The publisher's connection does not resend commands after a
 *   reconnect (ioredis would, by default); when a batch's reply is lost, the publisher reads the
 *   job's `seq` (on whichever node owns the slot now) and resends only if the batch did not land.
 *   This assumes the publisher is the job's only writer, which is how runners work.
 * - A failover loses no line and renumbers none: after any connection loss the publisher reads
 *   the job's `seq` before it appends again, and when the promoted replica never received lines
 *   the old primary had acknowledged, it appends them again first (acked-lines.ts), so each seq
 *   keeps the content it had.
 * - Never a line dropped because Redis is slower than the writer or unreachable for a while:
 *   lines past an in-memory window (`maxBufferedLines`, `maxBufferedBytes`) wait in a spool file
 *   (`spoolMaxBytes`, default 1 GiB; outgoing-lines.ts) and go out in order as Redis keeps up,
 *   with exponential backoff while it does not answer. Only a full spool drops lines: they are
 *   counted (`droppedLines`, the `drop` event, with why), and a stderr line in the job, where
 *   they were, says how many and why. `write` returns false while the memory window is full
 *   (the line was spooled or dropped) and `drain` follows once it has room again: a writer that
 *   can wait uses that as backpressure; one that cannot (a command's output) relies on the spool.
 * - `progress(stream, text)` publishes the text of a line still being written (a `\r` progress
 *   bar) with `jobstream_progress`, only while every earlier line is stored; nothing is kept.
 * - A status change goes out after every line written before it; `flush()` and `close()`
 *   resolve once everything written so far is in Redis.
 * - From creation until the job ends it heartbeats every `heartbeatMs` and emits `cancel` once
 *   when someone asks the job to stop (the runner then stops its work and ends the job with
 *   `cancel()`), and `ended` when the job was finished by someone else (the reaper): the runner
 *   should stop its work; no status of its own will be accepted (runner-signals.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { EventEmitter } from 'node:events';
import { backoffDelay } from './backoff.js';
import { JobstreamError } from './errors.js';
import { isTerminal, type JobMetadata, type JobStatus } from './job.js';
import { jobKey } from './keys.js';
import { limitLine } from './line-limit.js';
import type { OutputStream } from './protocol.js';
import {
  appendLines,
  createJob,
  publishProgress,
  setJobStatus,
  type LineToAppend,
  type NewJob,
} from './redis/functions.js';
import { OutgoingLines, type DropReason } from './outgoing-lines.js';
export type { DropReason } from './outgoing-lines.js';
import { ensureLibrary, isFunctionMissing, loadLibraryWhereMissing } from './redis/library.js';
import type { RedisConnection } from './redis/client.js';
import { RunnerSignals } from './runner-signals.js';
import { AckedLines } from './acked-lines.js';
import { watchConnectionLoss, writerConnection } from './redis/writer-connection.js';

export interface JobPublisherOptions {
  /** How long a batch waits for more lines before it is sent. 0 sends every line on its own. */
  lingerMs?: number;
  maxBatchLines?: number;
  maxBatchBytes?: number;
  /** Lines (and bytes of text) kept in memory; past this they wait in the spool file. */
  maxBufferedLines?: number;
  maxBufferedBytes?: number;
  /** The spool: its folder (the system's temporary folder by default) and its size limit (0: none). */
  spoolDir?: string;
  spoolMaxBytes?: number;
  /** How often the runner's sign of life is sent while the job is queued or running (≤ 10 s). */
  heartbeatMs?: number;
  /** Backoff between retries while Redis is unreachable. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Acknowledged lines kept to rebuild what a failover loses (acked-lines.ts). */
  ackedWindowLines?: number;
  ackedWindowBytes?: number;
}

const DEFAULTS: Required<JobPublisherOptions> = {
  lingerMs: 10,
  maxBatchLines: 1000,
  maxBatchBytes: 512 * 1024,
  maxBufferedLines: 100_000,
  maxBufferedBytes: 32 * 1024 * 1024,
  spoolDir: '',
  spoolMaxBytes: 1024 * 1024 * 1024,
  heartbeatMs: 5000,
  retryMinMs: 50,
  // A failover ends within the cluster's node timeout: retry often enough to follow it at once.
  retryMaxMs: 500,
  ackedWindowLines: 20_000,
  ackedWindowBytes: 8 * 1024 * 1024,
};

export interface JobPublisherEvents {
  /** Lines dropped because the spool was full, and why (Redis unreachable, or only slower). */
  drop: [count: number, reason: DropReason];
  /** The memory window has room again after `write` returned false. */
  drain: [];
  /** A Redis error the publisher is retrying through (for logs; nothing to do). */
  retry: [error: Error];
  /** Lines the library refused (the job ended or vanished): retrying cannot help. */
  refused: [error: JobstreamError, lines: number];
  /** Lines a failover lost that were older than the acked window: they could not be rebuilt. */
  lost: [fromSeq: number, toSeq: number];
  /** Someone asked for the job to stop (`jobstream_cancel`); emitted once. */
  cancel: [requestedAt: number];
  /** The job was finished by someone else (the gateway's reaper); emitted once. */
  ended: [error: JobstreamError];
}

export class JobPublisher extends EventEmitter<JobPublisherEvents> {
  private readonly options: Required<JobPublisherOptions>;
  private readonly queue: OutgoingLines;
  /** Lines to append again (a failover lost them) before anything else. */
  private resend: LineToAppend[] = [];
  private readonly acked: AckedLines;
  /** A connection dropped since the last append: check the job's seq before the next one. */
  private suspect = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private pump: Promise<void> | null = null;
  /** The last Redis call failed on a connection error (drops are then "unreachable"). */
  private unreachable = false;
  /** `write` returned false: `drain` is owed once the window has room. */
  private drainOwed = false;
  /** The newest progress text asked for, and when one was last published. */
  private progressText: { stream: OutputStream; text: string } | null = null;
  private progressSending = false;
  /** Heartbeat and cancel (runner-signals.ts), from creation until the job ends. */
  private signals: RunnerSignals | null = null;
  private status: JobStatus;
  private closed = false;
  /** `ended` was emitted (the job was finished by someone else). */
  private endedByOthers = false;
  /** Lines dropped so far (buffer full while Redis was down, or refused by the library). */
  droppedLines = 0;

  private constructor(
    private readonly redis: RedisConnection,
    readonly jobId: string,
    status: JobStatus,
    /** The job's seq after the last batch this publisher knows landed. */
    private lastSeq: number,
    options: JobPublisherOptions,
  ) {
    super();
    this.options = { ...DEFAULTS, ...options };
    this.status = status;
    this.acked = new AckedLines(this.options.ackedWindowLines, this.options.ackedWindowBytes);
    this.queue = new OutgoingLines({
      windowLines: this.options.maxBufferedLines,
      windowBytes: this.options.maxBufferedBytes,
      spoolDir: this.options.spoolDir || undefined,
      spoolMaxBytes: this.options.spoolMaxBytes,
    });
    watchConnectionLoss(redis, () => (this.suspect = true));
  }

  /**
   * Creates the job (and the function library, if none is loaded) and returns its publisher.
   * `redis` (a standalone connection or a Cluster) is duplicated into a connection of the
   * publisher's own that never resends.
   */
  static async create(
    redis: RedisConnection,
    job: NewJob,
    options: JobPublisherOptions = {},
  ): Promise<JobPublisher> {
    const { retryMinMs, retryMaxMs } = { ...DEFAULTS, ...options };
    const connection = await writerConnection(redis, { retryMinMs, retryMaxMs });
    try {
      await ensureLibrary(connection);
      await createJob(connection, job);
    } catch (error) {
      connection.disconnect();
      throw error;
    }
    const publisher = new JobPublisher(connection, job.id, 'queued', 0, options);
    // Alive from creation: a queued job whose runner died is reaped as well as a running one.
    publisher.signals = await RunnerSignals.start(connection, job.id, publisher.options.heartbeatMs, {
      cancel: (requestedAt) => {
        if (!isTerminal(publisher.status)) publisher.emit('cancel', requestedAt);
      },
      ended: (error) => publisher.endedElsewhere(error),
      retry: (error) => publisher.retryingThrough(error),
    });
    return publisher;
  }

  get currentStatus(): JobStatus {
    return this.status;
  }

  /** Lines written but not yet confirmed in Redis. */
  get bufferedLines(): number {
    return this.queue.length + this.resend.length;
  }

  /**
   * Queues a line. False when the memory window is full (the line was spooled, or dropped if the
   * spool is full too): a writer that can wait should wait for `drain`.
   */
  write(stream: OutputStream, line: string): boolean {
    if (this.closed || isTerminal(this.status)) {
      this.droppedLines++;
      this.emit(
        'refused',
        new JobstreamError('JOB_FINISHED', `job ${this.jobId} has ended; line not written`),
        1,
      );
      return false;
    }
    // The open line this progress text showed has ended: its final text is this line.
    if (this.progressText?.stream === stream) this.progressText = null;
    const reason: DropReason = this.unreachable ? 'unreachable' : 'slower';
    if (!this.queue.push({ stream, line: limitLine(line) }, reason)) {
      this.droppedLines++;
      this.emit('drop', 1, reason);
    }
    if (this.bufferedLines >= this.options.maxBatchLines || this.options.lingerMs === 0) this.kick();
    else this.lingerTimer ??= setTimeout(() => this.kick(), this.options.lingerMs);
    if (!this.queue.windowFull) return true;
    this.drainOwed = true;
    return false;
  }

  /** Lines waiting in the spool file (past the memory window). */
  get spooledLines(): number {
    return this.queue.spooled;
  }

  /**
   * The text of a line still being written (after a `\r`, or a prompt without a newline), shown
   * live and never stored: published once every earlier line is stored, at most once per call
   * (the caller paces it, DESIGN.md: every 250 ms). Newer text replaces older text not yet sent.
   */
  progress(stream: OutputStream, text: string): void {
    if (this.closed || isTerminal(this.status)) return;
    this.progressText = { stream, text: limitLine(text) };
    this.sendProgressIfIdle();
  }

  stdout(line: string): void {
    this.write('stdout', line);
  }

  stderr(line: string): void {
    this.write('stderr', line);
  }

  /** Marks the job running (and says it is alive at once, not only after the first interval). */
  async start(fields: JobMetadata = {}): Promise<void> {
    await this.setStatus('running', fields);
    await this.signals?.beat();
  }

  /** The time a cancel was asked for, 0 when none was. */
  get cancelRequested(): number {
    return this.signals?.cancelRequested ?? 0;
  }

  /** Sets metadata (branch, mrUrl, linesAdded, …) without changing the status. */
  async update(fields: JobMetadata): Promise<void> {
    await this.setStatus(this.status, fields);
  }

  /** Ends the job from a process exit code: 0 is success, anything else failed. */
  async finish(exitCode: number, fields: JobMetadata = {}): Promise<void> {
    const status = exitCode === 0 ? 'success' : 'failed';
    await this.setStatus(status, {
      exitCode,
      ...(status === 'failed' && fields.errorMessage === undefined
        ? { errorMessage: `exit code ${exitCode}` }
        : {}),
      ...fields,
    });
  }

  async cancel(reason = 'cancelled'): Promise<void> {
    await this.setStatus('cancelled', { errorMessage: reason });
  }

  /** Resolves when every line written so far is in Redis. */
  async flush(): Promise<void> {
    this.kick();
    while (this.pump) await this.pump;
  }

  /** Flushes, stops the heartbeat, closes the publisher's connection and frees the spool. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.signals?.stop();
    this.queue.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async setStatus(status: JobStatus, fields: JobMetadata): Promise<void> {
    // A status change is idempotent (a status to itself is legal), so a lost reply is simply
    // retried, each time after a flush: lines a failover lost are rebuilt before the status.
    for (let attempt = 0; ; attempt++) {
      await this.flush();
      try {
        this.lastSeq = await setJobStatus(this.redis, this.jobId, status, fields);
        break;
      } catch (error) {
        if (error instanceof JobstreamError) throw error;
        this.suspect = true;
        this.retryingThrough(error as Error);
        await this.reloadLibraryIfMissing(error);
        await sleep(this.backoff(attempt));
      }
    }
    this.status = status;
    if (isTerminal(status)) this.signals?.stop();
  }

  private sendProgressIfIdle(): void {
    if (!this.progressText || this.progressSending || this.bufferedLines > 0 || this.pump) return;
    const { stream, text } = this.progressText;
    this.progressText = null;
    this.progressSending = true;
    // Nothing is retried: a progress line that could not be shown is replaced by the next one.
    publishProgress(this.redis, this.jobId, stream, text)
      .catch((error: unknown) => {
        if (!(error instanceof JobstreamError)) this.emit('retry', error as Error);
      })
      .finally(() => (this.progressSending = false));
  }

  private kick(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.pump ??= this.sendAll().finally(() => {
      this.pump = null;
      this.sendProgressIfIdle();
    });
  }

  private async sendAll(): Promise<void> {
    for (;;) {
      if (this.bufferedLines === 0) {
        // Nothing to send, but a connection dropped: lines acknowledged before it may need
        // rebuilding before a status change (or close) puts anything after them.
        if (!this.suspect) return;
        this.suspect = false;
        const seqNow = await this.retrying(() => this.readSeq());
        if (seqNow < this.lastSeq) this.rebuildAfter(seqNow, []);
        if (this.bufferedLines === 0) return;
      }
      const batch =
        this.resend.length > 0 ? this.resend.splice(0, this.options.maxBatchLines) : this.takeBatch();
      await this.sendBatch(batch);
    }
  }

  private takeBatch(): LineToAppend[] {
    const batch = this.queue.take(this.options.maxBatchLines, this.options.maxBatchBytes);
    if (this.drainOwed && !this.queue.windowFull) {
      this.drainOwed = false;
      this.emit('drain');
    }
    return batch;
  }

  private async sendBatch(batch: LineToAppend[]): Promise<void> {
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
          // The library refused the batch (the job ended or vanished): retrying cannot help.
          this.droppedLines += batch.length;
          this.emit('refused', error, batch.length);
          if (error.code === 'JOB_FINISHED') this.endedElsewhere(error); // sooner than a heartbeat
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
   * Redis now ends at `seqNow`, before lines it had acknowledged: append those again (same
   * order, so the same seqs), then `batch`, then whatever else was waiting to be resent.
   */
  private rebuildAfter(seqNow: number, batch: LineToAppend[]): void {
    const lost = this.acked.after(seqNow);
    if (lost) {
      this.resend = [...lost, ...batch, ...this.resend];
    } else {
      // Older than the window: those seqs will hold other lines. Say so in the job itself.
      this.emit('lost', seqNow + 1, this.lastSeq);
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
      this.emit('retry', loadError as Error),
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

  /** The job was finished by someone else (the reaper): say so once; nothing of ours will be accepted. */
  private endedElsewhere(error: JobstreamError): void {
    if (isTerminal(this.status) || this.endedByOthers) return;
    this.endedByOthers = true;
    this.emit('ended', error);
  }

  /** A Redis call failed on the connection: lines dropped until one succeeds are "unreachable". */
  private retryingThrough(error: Error): void {
    this.unreachable = true;
    this.emit('retry', error);
  }

  private backoff(attempt: number): number {
    const { retryMinMs, retryMaxMs } = this.options;
    return backoffDelay({ initialMs: retryMinMs, maxMs: retryMaxMs }, attempt);
  }
}
