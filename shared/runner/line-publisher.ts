/**
 * What JobPublisher (Redis) and HttpJobPublisher (the gateway's HTTP ingest) share: one job's
 * lines queued in order (the memory window and spool of outgoing-lines.ts), sent in batches after
 * `lingerMs` or at `maxBatchLines`, `drain` once the window has room, the newest progress text
 * sent once every earlier line is stored, and the job's lifecycle (start, update, finish, cancel,
 * flush, close). Each subclass says how a batch, a status and a progress text reach the job, and
 * why a line would be dropped. The contract is publisher.ts's.
 */
import { EventEmitter } from 'node:events';
import { JobstreamError } from '../errors.js';
import { isTerminal, type JobMetadata, type JobStatus } from '../job.js';
import type { OutputStream } from '../protocol.js';
import type { LineToAppend } from '../redis/functions.js';
import { limitLine } from './line-limit.js';
import { OutgoingLines, type DropReason } from './outgoing-lines.js';
import { exitOutcome, PUBLISHER_DEFAULTS, type JobPublisherOptions } from './publisher-options.js';

export interface JobPublisherEvents {
  /** Lines dropped because the spool was full, and why (the store unreachable, or only slower). */
  drop: [count: number, reason: DropReason];
  /** The memory window has room again after `write` returned false. */
  drain: [];
  /** An error the publisher is retrying through (for logs; nothing to do). */
  retry: [error: Error];
  /** Lines the job refused (it ended or vanished): retrying cannot help. */
  refused: [error: JobstreamError, lines: number];
  /** Lines a failover lost that were older than the acked window: they could not be rebuilt. */
  lost: [fromSeq: number, toSeq: number];
  /** Someone asked for the job to stop (`jobstream_cancel`); emitted once. */
  cancel: [requestedAt: number];
  /** The job was finished by someone else (the gateway's reaper); emitted once. */
  ended: [error: JobstreamError];
}

export abstract class LinePublisher extends EventEmitter<JobPublisherEvents> {
  protected readonly options: Required<JobPublisherOptions>;
  protected readonly queue: OutgoingLines;
  private lingerTimer: NodeJS.Timeout | null = null;
  private pump: Promise<void> | null = null;
  /** `write` returned false: `drain` is owed once the window has room. */
  private drainOwed = false;
  /** The newest progress text asked for, and whether one is being sent. */
  private progressText: { stream: OutputStream; text: string } | null = null;
  private progressSending = false;
  protected status: JobStatus = 'queued';
  private closed = false;
  /** `ended` was emitted (the job was finished by someone else). */
  protected endedByOthers = false;
  /** Lines dropped so far (the spool full, or refused by the job). */
  droppedLines = 0;

  protected constructor(
    readonly jobId: string,
    options: JobPublisherOptions,
  ) {
    super();
    this.options = { ...PUBLISHER_DEFAULTS, ...options };
    this.queue = new OutgoingLines({
      windowLines: this.options.maxBufferedLines,
      windowBytes: this.options.maxBufferedBytes,
      spoolDir: this.options.spoolDir || undefined,
      spoolMaxBytes: this.options.spoolMaxBytes,
    });
  }

  /** Lines written but not yet confirmed stored. */
  abstract get bufferedLines(): number;
  /** The time a cancel was asked for, 0 when none was. */
  abstract get cancelRequested(): number;
  /** Sends everything queued (and anything to send again), batch by batch, until none is left. */
  protected abstract sendAll(): Promise<void>;
  /** Sets the status once every line written before is stored. */
  protected abstract setStatus(status: JobStatus, fields: JobMetadata): Promise<void>;
  /** Publishes a progress text; never retried (the next one replaces it). */
  protected abstract sendProgress(stream: OutputStream, text: string): Promise<void>;
  /** Why a line the full spool cannot take is dropped. */
  protected dropReason(): DropReason {
    return 'slower';
  }

  get currentStatus(): JobStatus {
    return this.status;
  }

  /** Lines waiting in the spool file (past the memory window). */
  get spooledLines(): number {
    return this.queue.spooled;
  }

  /**
   * Queues a line. False when the memory window is full (the line was spooled, or dropped if the
   * spool is full too): a writer that can wait should wait for `drain`.
   */
  write(stream: OutputStream, line: string): boolean {
    if (this.closed || isTerminal(this.status)) {
      this.refuse(new JobstreamError('JOB_FINISHED', `job ${this.jobId} has ended; line not written`), 1);
      return false;
    }
    // The open line this progress text showed has ended: its final text is this line.
    if (this.progressText?.stream === stream) this.progressText = null;
    const reason = this.dropReason();
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

  stdout(line: string): void {
    this.write('stdout', line);
  }

  stderr(line: string): void {
    this.write('stderr', line);
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

  /** Marks the job running. */
  async start(fields: JobMetadata = {}): Promise<void> {
    await this.setStatus('running', fields);
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

  /** Resolves when every line written so far is stored. */
  async flush(): Promise<void> {
    this.kick();
    while (this.pump) await this.pump;
  }

  /** Flushes, then stops sending: `stop` ends the subclass's heartbeat and connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.queue.close();
    await this.stop();
  }

  /** What closing ends besides the queue (heartbeats, a connection). */
  protected abstract stop(): Promise<void>;

  /** The next batch from the queue; `drain` once the window has room again. */
  protected takeBatch(): LineToAppend[] {
    const batch = this.queue.take(this.options.maxBatchLines, this.options.maxBatchBytes);
    if (this.drainOwed && !this.queue.windowFull) {
      this.drainOwed = false;
      this.emit('drain');
    }
    return batch;
  }

  protected refuse(error: JobstreamError, lines: number): void {
    this.droppedLines += lines;
    this.emit('refused', error, lines);
  }

  /** The job was finished by someone else (the reaper): say so once; nothing of ours will be accepted. */
  protected endedElsewhere(error: JobstreamError): void {
    if (isTerminal(this.status) || this.endedByOthers) return;
    this.endedByOthers = true;
    this.emit('ended', error);
  }

  private kick(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.pump ??= this.sendAll().finally(() => {
      this.pump = null;
      this.sendProgressIfIdle();
    });
  }

  private sendProgressIfIdle(): void {
    if (!this.progressText || this.progressSending || this.bufferedLines > 0 || this.pump) return;
    const { stream, text } = this.progressText;
    this.progressText = null;
    this.progressSending = true;
    void this.sendProgress(stream, text).finally(() => (this.progressSending = false));
  }
}
