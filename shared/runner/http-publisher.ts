/**
 * HttpJobPublisher: JobPublisher's contract (publisher.ts) for a runner that writes through the
 * gateway's HTTP ingest instead of Redis (docs/runners.md "Over HTTP"), for `jobrun --url`.
 *
 * - The job is created with a sign-in token (`runner`, `admin`, or a `user` for itself); every
 *   later call uses the job token the creation answers, and nothing else.
 * - Exactly once without reading anything back: each batch names `after`, the last seq the
 *   gateway confirmed, so a batch retried after a lost reply (a gateway restart, a `kill -9`
 *   behind a load balancer, a 503) lands once. A 409 `seq_mismatch` below that (a Redis failover
 *   lost acknowledged lines) is answered by sending those lines again from the acked window.
 * - The same memory window and spool as JobPublisher (outgoing-lines.ts): lines the gateway has
 *   not taken wait on disk, never dropped for speed. Each reply carries `cancelRequestedAt`; a
 *   heartbeat goes out every `heartbeatMs` besides.
 * - A terminal status names the last seq stored, after every line written before it.
 */
import { JobstreamError } from '../errors.js';
import { isTerminal, type JobMetadata, type JobStatus } from '../job.js';
import type { OutputStream } from '../protocol.js';
import type { LineToAppend, NewJob } from '../redis/functions.js';
import { AckedLines } from './acked-lines.js';
import { errorCode, errorMessage, IngestClient, type IngestAnswer } from './ingest-client.js';
import { LinePublisher } from './line-publisher.js';
import type { JobPublisherOptions } from './publisher-options.js';

/** How long the creation is retried before jobrun gives up and does not run the command. */
const CREATE_GIVE_UP_MS = 30_000;

export class HttpJobPublisher extends LinePublisher {
  private readonly acked: AckedLines;
  /** The last seq the gateway confirmed stored. */
  private lastStored = 0;
  /** Lines sent and not yet confirmed (sent again, with the same `after`, until they are). */
  private sending: LineToAppend[] = [];
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private cancelRequestedAt = 0;

  private constructor(
    private readonly client: IngestClient,
    jobId: string,
    options: JobPublisherOptions,
  ) {
    super(jobId, options);
    this.acked = new AckedLines(this.options.ackedWindowLines, this.options.ackedWindowBytes);
  }

  /** Creates the job at the gateway `baseUrl` with a sign-in `token`; retried (same id) for 30 s. */
  static async create(
    baseUrl: string,
    token: string,
    job: NewJob,
    options: JobPublisherOptions = {},
    /**
     * Told once, at the creation's first failure, what to say while it is retried (up to
     * CREATE_GIVE_UP_MS), so a wrong address or a restarting gateway is not a silent wait.
     */
    onCreateDelayed: (notice: string) => void = () => undefined,
  ): Promise<HttpJobPublisher> {
    let delayed = false;
    const onCreateRetry = (error: Error) => {
      if (delayed) return;
      delayed = true;
      onCreateDelayed(
        `cannot create the job at ${baseUrl} yet (${error.message}); trying for ${CREATE_GIVE_UP_MS / 1000} s before the command runs`,
      );
    };
    const backoff = { initialMs: options.retryMinMs ?? 50, maxMs: Math.max(options.retryMaxMs ?? 500, 2000) };
    const client = new IngestClient(
      baseUrl.replace(/\/+$/, ''),
      token,
      backoff,
      onCreateRetry,
      CREATE_GIVE_UP_MS,
    );
    const answer = await client.post('/api/jobs', {
      id: job.id,
      owner: job.owner,
      title: job.title,
      ...job.fields,
    });
    if (answer.status !== 201 && answer.status !== 200)
      throw new Error(
        `HTTP ${answer.status}: ${errorMessage(answer.body) ?? 'the job could not be created'}`,
      );
    const running = new IngestClient(
      baseUrl.replace(/\/+$/, ''),
      String(answer.body.jobToken),
      backoff,
      (error) => publisher.emit('retry', error),
    );
    const publisher = new HttpJobPublisher(running, job.id, options);
    publisher.heartbeatTimer = setInterval(() => void publisher.heartbeat(), publisher.options.heartbeatMs);
    publisher.heartbeatTimer.unref();
    return publisher;
  }

  get bufferedLines(): number {
    return this.queue.length + this.sending.length;
  }

  get cancelRequested(): number {
    return this.cancelRequestedAt;
  }

  protected async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
  }

  protected async setStatus(status: JobStatus, fields: JobMetadata): Promise<void> {
    await this.flush();
    if (this.endedByOthers) return;
    for (;;) {
      const body = { status, ...fields, ...(isTerminal(status) ? { lastSeq: this.lastStored } : {}) };
      const answer = await this.client.post(`/api/jobs/${this.jobId}/status`, body);
      if (answer.status === 200) break;
      if (errorCode(answer.body) === 'seq_mismatch' && this.resendLost(Number(answer.body.lastSeq))) {
        await this.flush();
        continue;
      }
      this.endOnRefusal(answer, 0);
      throw new JobstreamError('BAD_TRANSITION', errorMessage(answer.body) ?? `HTTP ${answer.status}`);
    }
    this.status = status;
    if (isTerminal(status) && this.heartbeatTimer) clearInterval(this.heartbeatTimer);
  }

  protected async sendProgress(stream: OutputStream, text: string): Promise<void> {
    // Nothing is retried past the client's own retries: the next progress text replaces this one.
    await this.client.post(`/api/jobs/${this.jobId}/progress`, { stream, line: text });
  }

  protected async sendAll(): Promise<void> {
    while (this.bufferedLines > 0 && !this.endedByOthers) {
      if (this.sending.length === 0) this.sending = this.takeBatch();
      const answer = await this.client.post(`/api/jobs/${this.jobId}/lines`, {
        after: this.lastStored,
        lines: this.sending,
      });
      if (answer.status === 200) {
        this.noteCancel(answer.body.cancelRequestedAt);
        this.acked.record(this.sending, Number(answer.body.lastSeq));
        this.lastStored = Number(answer.body.lastSeq);
        this.sending = [];
      } else if (errorCode(answer.body) === 'seq_mismatch' && this.resendLost(Number(answer.body.lastSeq))) {
        continue;
      } else {
        this.endOnRefusal(answer, this.bufferedLines);
        return;
      }
    }
  }

  /**
   * The gateway holds fewer lines than it confirmed (a Redis failover lost them): those lines go
   * out again first, so each seq keeps its content. False when that is not the case.
   */
  private resendLost(stored: number): boolean {
    if (!Number.isSafeInteger(stored) || stored >= this.lastStored) return false;
    const lost = this.acked.after(stored);
    if (lost === null) this.emit('lost', stored + 1, this.lastStored);
    this.sending = [...(lost ?? []), ...this.sending];
    this.lastStored = stored;
    return true;
  }

  /** A refusal retrying cannot help (the job ended, or the token no longer works). */
  private endOnRefusal(answer: IngestAnswer, lines: number): void {
    const ended = errorCode(answer.body) === 'job_finished' || answer.status === 404;
    const error = new JobstreamError(
      ended ? 'JOB_FINISHED' : 'BAD_ARGUMENTS',
      errorMessage(answer.body) ?? `HTTP ${answer.status}`,
    );
    if (lines > 0) {
      this.sending = [];
      while (this.queue.length > 0) this.queue.take(this.options.maxBatchLines, this.options.maxBatchBytes);
      this.refuse(error, lines);
    }
    if (ended) this.endedElsewhere(error);
  }

  private async heartbeat(): Promise<void> {
    if (isTerminal(this.status) || this.endedByOthers) return;
    const answer = await this.client.post(`/api/jobs/${this.jobId}/heartbeat`, {});
    if (answer.status === 200) this.noteCancel(answer.body.cancelRequestedAt);
    else this.endOnRefusal(answer, 0);
  }

  private noteCancel(at: unknown): void {
    const requestedAt = Number(at ?? 0);
    if (requestedAt > 0 && this.cancelRequestedAt === 0) {
      this.cancelRequestedAt = requestedAt;
      if (!isTerminal(this.status)) this.emit('cancel', requestedAt);
    }
  }
}
