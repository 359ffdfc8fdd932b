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

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Per-socket frame limits of the protocol. */
export const FRAME_RATE = { perSecond: 20, burst: 60 } as const;
/** Frames refused for rate within a window after which the socket is closed with 1008. */
export const FLOOD_CLOSE = { refused: 60, windowMs: 5000 } as const;
/** Socket send buffer above which live frames stop and the subscription catches up later. */
export const SEND_HIGH_WATER_BYTES = 1024 * 1024;
/** Lines per replay frame (and per read), and the bytes one replay frame may hold. */
export const REPLAY_PAGE_LINES = 1000;
export const REPLAY_PAGE_BYTES = 256 * 1024;
