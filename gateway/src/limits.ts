/**
 * The gateway's limits in one place: the per-socket frame budget, the send buffer a slow socket
 * may fill, replay page sizes and how long anything waits on Redis.
 */

/**
 * A token bucket: `ratePerSecond` refill up to `burst`. A client that stays under the rate is
 * never limited; a burst is allowed up to `burst` frames.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0 when one is now). */
  msUntilNext(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}

/**
 * Per-socket frame budget of the protocol: a burst that lets a page open every view at once (or a
 * client resubscribe everything after a reconnect), then a sustained rate.
 */
export const FRAMES_PER_SECOND = 20;
export const burstFrames = (maxSubscriptions: number): number => maxSubscriptions + 20;
/** Frames refused for rate within a window after which the socket is closed with 1008. */
export const FLOOD_CLOSE = { refused: 60, windowMs: 5000 } as const;
/** Socket send buffer above which live frames stop and the subscription catches up later. */
export const SEND_HIGH_WATER_BYTES = 1024 * 1024;
/**
 * Live messages a subscription holds while it replays (shared buffers, so this is what one
 * subscription can pin); past it, or while its socket is congested, it keeps only its position and
 * reads the list again (guarantee 5: nothing held grows with the job's output).
 */
export const MAX_PENDING_BYTES = 256 * 1024;
/**
 * Lines per replay frame (and per read), and the bytes one replay frame may hold. Measured on a
 * 100,000-line replay (npm run bench -- --only replay): pages of 2,000 lines took 108–118 ms, of
 * 1,000 119–126 ms (more `jobstream_read` calls) and of 5,000 146–157 ms (256 KB frames).
 */
export const REPLAY_PAGE_LINES = 2000;
export const REPLAY_PAGE_BYTES = 256 * 1024;
/** HTTP API requests per user: generous for a dashboard, a wall against a runaway script. */
export const HTTP_REQUEST_RATE = { perSecond: 50, burst: 200 } as const;
/**
 * The HTTP ingest (docs/runners.md "Over HTTP"): requests per job token (a runner batching every
 * 10 ms sends 100 a second), the largest body, the most lines in one call.
 */
export const INGEST_REQUEST_RATE = { perSecond: 200, burst: 400 } as const;
export const INGEST_MAX_BODY_BYTES = 1024 * 1024;
export const INGEST_MAX_LINES = 10_000;
/** Life of a job token (JOBSTREAM_JOB_TOKEN_TTL_S default): the longest a job may run over HTTP. */
export const JOB_TOKEN_TTL_S = 7 * 24 * 3600;
/** Pings left unanswered after which a socket is terminated. */
export const MAX_UNANSWERED_PINGS = 2;
/** How often expiries are checked; a socket lives at most this long past its token. */
export const EXPIRY_TICK_MS = 1000;
/** Lines per read while streaming `output.txt`. */
export const DOWNLOAD_PAGE_LINES = 1000;
/** Lines and bytes per page while searching a log: bounded memory for any job size. */
export const SEARCH_PAGE_LINES = 2000;
export const SEARCH_PAGE_BYTES = 1024 * 1024;
/**
 * Searches running at once, per user and in the whole process; one more is refused with 429 and
 * `Retry-After` (a search of a 1,000,000-line log takes seconds of CPU: unbounded, 100 of them
 * starved every socket and probe of the process).
 */
export const SEARCH_CONCURRENCY = { perUser: 2, perProcess: 4 } as const;
export const SEARCH_RETRY_AFTER_S = 1;
/** CPU a search may take in one event-loop turn before it yields, so pings and probes stay prompt. */
export const SEARCH_SLICE_MS = 5;
/** Largest listen backlog the kernel grants here; a connect storm overflows node's default 511. */
export const LISTEN_BACKLOG = 4096;
