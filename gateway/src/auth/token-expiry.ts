/**
 * Token expiry for every socket of a gateway on one clock: a single tick (every second) closes
 * the sockets whose token has expired, instead of one timer per socket. The clock is injectable,
 * so tests move time forward instead of waiting for it.
 */
import { EXPIRY_TICK_MS } from '../limits.js';
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class TokenExpiry<T> {
  private readonly expiresAt = new Map<T, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly clock: Clock,
    private readonly onExpired: (target: T) => void,
    tickMs = EXPIRY_TICK_MS,
  ) {
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  /** Watches `target` until `at` (a later call replaces the time: a refreshed token). */
  track(target: T, at: number): void {
    this.expiresAt.set(target, at);
  }

  untrack(target: T): void {
    this.expiresAt.delete(target);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = this.clock.now();
    for (const [target, at] of this.expiresAt) {
      if (at > now) continue;
      this.expiresAt.delete(target);
      this.onExpired(target);
    }
  }
}
