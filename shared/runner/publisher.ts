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
import { JobstreamError } from '../errors.js';
import { ExactWriter } from './exact-writer.js';
import { isTerminal, type JobMetadata, type JobStatus } from '../job.js';
import { LinePublisher } from './line-publisher.js';
import type { DropReason } from './outgoing-lines.js';
import type { OutputStream } from '../protocol.js';
import type { RedisConnection } from '../redis/client.js';
import { createJob, publishProgress, type NewJob } from '../redis/functions.js';
import { ensureLibrary } from '../redis/library.js';
import { writerConnection } from '../redis/writer-connection.js';
import { RunnerSignals } from './runner-signals.js';
import { PUBLISHER_DEFAULTS, type JobPublisherOptions } from './publisher-options.js';

export type { DropReason } from './outgoing-lines.js';
export type { JobPublisherEvents } from './line-publisher.js';
export { exitOutcome, PUBLISHER_DEFAULTS, type JobPublisherOptions } from './publisher-options.js';

export class JobPublisher extends LinePublisher {
  private readonly writer: ExactWriter;
  /** Heartbeat and cancel (runner-signals.ts), from creation until the job ends. */
  private signals: RunnerSignals | null = null;

  private constructor(
    private readonly redis: RedisConnection,
    jobId: string,
    options: JobPublisherOptions,
  ) {
    super(jobId, options);
    this.writer = new ExactWriter(redis, jobId, 0, this.options, {
      retry: (error) => this.emit('retry', error),
      refused: (error, lines) => {
        this.refuse(error, lines);
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
    const publisher = new JobPublisher(connection, job.id, options);
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

  get bufferedLines(): number {
    return this.queue.length + this.writer.resending;
  }

  get cancelRequested(): number {
    return this.signals?.cancelRequested ?? 0;
  }

  /** Marks the job running (and says it is alive at once, not only after the first interval). */
  override async start(fields: JobMetadata = {}): Promise<void> {
    await super.start(fields);
    await this.signals?.beat();
  }

  protected override dropReason(): DropReason {
    return this.writer.unreachable ? 'unreachable' : 'slower';
  }

  protected async stop(): Promise<void> {
    this.signals?.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  protected async setStatus(status: JobStatus, fields: JobMetadata): Promise<void> {
    await this.writer.setStatus(status, fields, () => this.flush());
    this.status = status;
    if (isTerminal(status)) this.signals?.stop();
  }

  protected async sendProgress(stream: OutputStream, text: string): Promise<void> {
    await publishProgress(this.redis, this.jobId, stream, text).catch((error: unknown) => {
      if (!(error instanceof JobstreamError)) this.emit('retry', error as Error);
    });
  }

  protected async sendAll(): Promise<void> {
    for (;;) {
      // Nothing to send, but a connection dropped: lines acknowledged before it may need
      // rebuilding before a status change (or close) puts anything after them.
      if (this.bufferedLines === 0) await this.writer.checkAfterLoss();
      if (this.bufferedLines === 0) return;
      const resend = this.writer.takeResend(this.options.maxBatchLines);
      await this.writer.append(resend.length > 0 ? resend : this.takeBatch());
    }
  }
}
