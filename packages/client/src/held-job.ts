/**
 * One job the tab's socket holds: its lines, what is known of it (job, done, error), the views
 * listening, how many hold it, and the retry of a refused subscribe. The socket owns the wire;
 * this owns the job's state.
 */
import { backoffDelay, type Backoff } from '../../../shared/backoff.js';
import { isTerminal, type Job, type JobStatus } from '../../../shared/job.js';
import type {
  DoneFrame,
  ErrorCode,
  ErrorFrame,
  GapFrame,
  OutputFrame,
  ProgressFrame,
  StatusFrame,
} from '../../../shared/protocol.js';
import { LineStore } from './line-store.js';

export interface JobView {
  job: Job | null;
  done: { status: JobStatus; lastSeq: number } | null;
  error: { code: ErrorCode; message: string } | null;
}

/**
 * What a program following a job hears (`JobSocket.onJobEvent`): the job's frames as they come,
 * `output` holding only lines not heard before (a resubscribe after a reconnect never repeats one).
 */
export type JobEvent =
  | StatusFrame
  | OutputFrame
  | GapFrame
  | DoneFrame
  | ProgressFrame
  | (ErrorFrame & { jobId: string; retrying: boolean });

/** Error codes after which a subscribe is sent again by itself. */
const RETRIED_CODES: ReadonlySet<ErrorCode> = new Set(['rate_limited', 'unavailable']);
export const isRetried = (code: ErrorCode): boolean => RETRIED_CODES.has(code);

export class HeldJob {
  readonly store: LineStore;
  view: JobView = { job: null, done: null, error: null };
  readonly listeners = new Set<() => void>();
  readonly eventListeners = new Set<(event: JobEvent) => void>();
  /** Where a holder asked to start (`since`): lines after it, none before. */
  startAfter: number | undefined;
  refs = 0;
  /** A subscribe was sent on the current connection and has not ended (done or error). */
  active = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Refusals in a row, for the backoff of `unavailable`. */
  private refusals = 0;

  constructor(maxLines: number) {
    this.store = new LineStore(maxLines);
  }

  /**
   * How many lines a first look asks for: as many as the largest view holding the job shows (a
   * wall tile wants its last few, not the 10,000 a log view keeps).
   */
  firstLook = 0;

  /** The subscribe to send: after the last seq held, or a first look at the last lines. */
  subscribeFrame(jobId: string) {
    const held = this.store.highestSeq;
    return held > 0 || this.startAfter !== undefined
      ? { type: 'subscribe' as const, jobId, since: Math.max(held, this.startAfter ?? 0) }
      : {
          type: 'subscribe' as const,
          jobId,
          tail: Math.min(this.firstLook || this.store.maxLines, this.store.maxLines),
        };
  }

  emit(event: JobEvent): void {
    for (const listener of this.eventListeners) listener(event);
  }

  /** A frame of this job: into its store and view, then to its listeners (lines once each). */
  receive(frame: Exclude<JobEvent, { type: 'error' }>): void {
    const { store } = this;
    switch (frame.type) {
      case 'status':
        this.status(frame.job);
        this.emit(frame);
        return;
      case 'output': {
        const held = store.highestSeq;
        const fresh =
          frame.lines[0] && frame.lines[0].seq > held ? frame.lines : frame.lines.filter((l) => l.seq > held);
        store.append(frame.lines);
        if (fresh.length > 0) this.emit(fresh === frame.lines ? frame : { ...frame, lines: fresh });
        return;
      }
      case 'gap': {
        const held = store.highestSeq;
        store.addGap(frame);
        if (frame.toSeq > held) this.emit(frame);
        return;
      }
      case 'done':
        this.done(frame);
        this.emit(frame);
        return;
      case 'progress':
        store.setPending(frame);
        this.emit(frame);
        return;
    }
  }

  status(job: Job): void {
    this.view = { ...this.view, job, error: null };
    this.refusals = 0;
    this.changed();
  }

  done(frame: DoneFrame): void {
    this.store.clearPending();
    this.view = { ...this.view, done: { status: frame.status, lastSeq: frame.lastSeq } };
    if (this.view.job && !isTerminal(this.view.job.status))
      this.view.job = { ...this.view.job, status: frame.status };
    this.active = false;
    this.changed();
  }

  /**
   * A refused subscribe. One that heals by itself (`rate_limited`, `unavailable`) is sent again
   * by `resubscribe` after the server's `retryAfterMs` or a backoff; any other is shown.
   */
  refused(frame: ErrorFrame, backoff: Backoff, random: () => number, resubscribe: () => void): void {
    this.active = false;
    if (RETRIED_CODES.has(frame.code)) {
      this.cancelRetry();
      const delay =
        frame.code === 'rate_limited' && frame.retryAfterMs !== undefined
          ? frame.retryAfterMs
          : backoffDelay(backoff, this.refusals, random);
      this.refusals++;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (!this.active) resubscribe();
      }, delay);
    } else {
      this.view = { ...this.view, error: { code: frame.code, message: frame.message } };
    }
    this.changed();
  }

  cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
