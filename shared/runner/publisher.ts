/**
 * JobPublisher: what a TypeScript runner uses to put a job's output into Redis.
 *
 * Contract:
 * - Lines are appended in the order written, in batches: a batch closes after `lingerMs` or at
 *   `maxBatchLines`/`maxBatchBytes`, and goes out as one `FCALL jobstream_append`.
 * - A batch is never appended twice, and a failover loses no line and renumbers none: the job's
 *   writer (exact-writer.ts) reads the job's `seq` after any connection loss and appends again
 *   only what did not land, or what a promoted replica never received. This assumes the
 *   publisher is the job's only writer, which is how runners work.
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
import { EventEmitter } from 'node:events';
import { JobstreamError } from '../errors.js';
import { ExactWriter } from './exact-writer.js';
import { isTerminal, type JobMetadata, type JobStatus } from '../job.js';
import { limitLine } from './line-limit.js';
import { OutgoingLines, type DropReason } from './outgoing-lines.js';
import type { OutputStream } from '../protocol.js';
import type { RedisConnection } from '../redis/client.js';
import { createJob, publishProgress, type LineToAppend, type NewJob } from '../redis/functions.js';
import { ensureLibrary } from '../redis/library.js';
import { writerConnection } from '../redis/writer-connection.js';
import { RunnerSignals } from './runner-signals.js';
import { exitOutcome, PUBLISHER_DEFAULTS, type JobPublisherOptions } from './publisher-options.js';

export type { DropReason } from './outgoing-lines.js';
export { exitOutcome, PUBLISHER_DEFAULTS, type JobPublisherOptions } from './publisher-options.js';

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
  private readonly writer: ExactWriter;
  private lingerTimer: NodeJS.Timeout | null = null;
  private pump: Promise<void> | null = null;
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
    options: JobPublisherOptions,
  ) {
    super();
    this.options = { ...PUBLISHER_DEFAULTS, ...options };
    this.status = status;
    this.queue = new OutgoingLines({
      windowLines: this.options.maxBufferedLines,
      windowBytes: this.options.maxBufferedBytes,
      spoolDir: this.options.spoolDir || undefined,
      spoolMaxBytes: this.options.spoolMaxBytes,
    });
    this.writer = new ExactWriter(redis, jobId, 0, this.options, {
      retry: (error) => this.emit('retry', error),
      refused: (error, lines) => {
        this.droppedLines += lines;
        this.emit('refused', error, lines);
        if (error.code === 'JOB_FINISHED') this.endedElsewhere(error); // sooner than a heartbeat
      },
      lost: (fromSeq, toSeq) => this.emit('lost', fromSeq, toSeq),
    });
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
    const { retryMinMs, retryMaxMs } = { ...PUBLISHER_DEFAULTS, ...options };
    const connection = await writerConnection(redis, { retryMinMs, retryMaxMs });
    try {
      await ensureLibrary(connection);
      await createJob(connection, job);
    } catch (error) {
      connection.disconnect();
      throw error;
    }
    const publisher = new JobPublisher(connection, job.id, 'queued', options);
    // Alive from creation: a queued job whose runner died is reaped as well as a running one.
    publisher.signals = await RunnerSignals.start(connection, job.id, publisher.options.heartbeatMs, {
      cancel: (requestedAt) => {
        if (!isTerminal(publisher.status)) publisher.emit('cancel', requestedAt);
      },
      ended: (error) => publisher.endedElsewhere(error),
      retry: (error) => publisher.writer.retryingThrough(error),
    });
    return publisher;
  }

  get currentStatus(): JobStatus {
    return this.status;
  }

  /** Lines written but not yet confirmed in Redis. */
  get bufferedLines(): number {
    return this.queue.length + this.writer.resending;
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
    const reason: DropReason = this.writer.unreachable ? 'unreachable' : 'slower';
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
   * (the caller paces it, docs/runners.md: every 250 ms). Newer text replaces older text not yet sent.
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
    const outcome = exitOutcome(exitCode, fields);
    await this.setStatus(outcome.status, outcome.fields);
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
    await this.writer.setStatus(status, fields, () => this.flush());
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
      // Nothing to send, but a connection dropped: lines acknowledged before it may need
      // rebuilding before a status change (or close) puts anything after them.
      if (this.bufferedLines === 0) await this.writer.checkAfterLoss();
      if (this.bufferedLines === 0) return;
      const resend = this.writer.takeResend(this.options.maxBatchLines);
      await this.writer.append(resend.length > 0 ? resend : this.takeBatch());
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

  /** The job was finished by someone else (the reaper): say so once; nothing of ours will be accepted. */
  private endedElsewhere(error: JobstreamError): void {
    if (isTerminal(this.status) || this.endedByOthers) return;
    this.endedByOthers = true;
    this.emit('ended', error);
  }
}
