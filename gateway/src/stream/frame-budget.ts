/**
 * One socket's frame budget (docs/protocol.md "Limits, announced"): a burst of `maxSubscriptions + 20` frames,
 * then 20 a second. A frame over it is refused with an answer — `rate_limited`, naming the job of
 * a `subscribe`, with `retryAfterMs` — and 60 refusals within 5 s mean the socket is flooding and
 * is closed (1008).
 */
import type { RawData } from 'ws';
import { JOB_ID_PATTERN } from '../../../shared/job.js';
import type { ErrorFrame } from '../../../shared/protocol.js';
import { errorFrame } from './frames.js';
import { burstFrames, FLOOD_CLOSE, FRAMES_PER_SECOND, TokenBucket } from '../limits.js';

export type BudgetVerdict =
  | { accepted: true }
  /** `close`: the socket kept flooding; say `answer` now and close with 1008. */
  | { accepted: false; answer: ErrorFrame; close: boolean; firstInWindow: boolean };

export class FrameBudget {
  private readonly bucket: TokenBucket;
  private readonly burst: number;
  private refusedInWindow = 0;
  private windowStartedAt = 0;

  constructor(
    maxSubscriptions: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = burstFrames(maxSubscriptions);
    this.bucket = new TokenBucket(FRAMES_PER_SECOND, this.burst, now);
  }

  /** Spends one frame of the budget, or says how to refuse it. */
  take(data: RawData, isBinary: boolean): BudgetVerdict {
    if (this.bucket.take()) return { accepted: true };
    const now = this.now();
    if (now - this.windowStartedAt > FLOOD_CLOSE.windowMs) {
      this.windowStartedAt = now;
      this.refusedInWindow = 0;
    }
    this.refusedInWindow++;
    const close = this.refusedInWindow >= FLOOD_CLOSE.refused;
    const retryAfterMs = this.bucket.msUntilNext();
    const limit = `over the frame budget (${this.burst} at once, then ${FRAMES_PER_SECOND} a second)`;
    const message = close
      ? `${limit}; still flooding, closing`
      : `${limit}; send it again after ${retryAfterMs} ms`;
    const jobId = isBinary ? undefined : subscribeJobId(data);
    return {
      accepted: false,
      answer: errorFrame('rate_limited', message, jobId, retryAfterMs),
      close,
      firstInWindow: this.refusedInWindow === 1,
    };
  }
}

/** Text of a frame as received (ws hands over a Buffer, a list of them, or an ArrayBuffer). */
export function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** The job a refused frame subscribes to, so the refusal can name it (anything else: undefined). */
function subscribeJobId(data: RawData): string | undefined {
  try {
    const frame = JSON.parse(rawText(data)) as { type?: unknown; jobId?: unknown };
    if (frame?.type !== 'subscribe' || typeof frame.jobId !== 'string') return undefined;
    return JOB_ID_PATTERN.test(frame.jobId) ? frame.jobId : undefined;
  } catch {
    return undefined;
  }
}
