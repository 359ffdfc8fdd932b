/**
 * Who waits for one socket to drain (guarantee 5: a congested socket holds no page and no queue).
 * Waiters hold nothing and are woken by the TCP stream's `drain`, never by a timer while the
 * socket stays congested: a stalled client costs no CPU. A drain wakes a few waiters at a time,
 * as many pages as the high-water mark holds, so 200 replaying subscriptions do not all read a
 * page into a socket that can take four; the rest are woken as it drains again.
 */
import type { WebSocket } from 'ws';
import { REPLAY_PAGE_BYTES, SEND_HIGH_WATER_BYTES } from '../limits.js';
import { onceDrained } from './ws-internals.js';

/** Waiters a drain wakes at once: the pages of REPLAY_PAGE_BYTES the high-water mark holds. */
const WAKE_PER_DRAIN = Math.max(1, Math.floor(SEND_HIGH_WATER_BYTES / REPLAY_PAGE_BYTES));
/** How soon queued waiters are looked at again while the socket is not congested. */
const DRAIN_RECHECK_MS = 10;
/** A socket below this can take more. */
const DRAINED_BELOW_BYTES = SEND_HIGH_WATER_BYTES / 2;

export class DrainWaiters {
  private waiters: (() => void)[] = [];
  private awaitingDrain = false;
  private recheck: NodeJS.Timeout | null = null;
  private released = false;

  constructor(private readonly ws: WebSocket) {}

  /** Resolves once the socket can take more (below half the high-water mark), or was released. */
  drained(): Promise<void> {
    if (this.released || (this.waiters.length === 0 && this.ws.bufferedAmount <= DRAINED_BELOW_BYTES))
      return Promise.resolve();
    const woken = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.wake();
    return woken;
  }

  /** The socket is gone: every waiter is woken at once (they find it closed). */
  release(): void {
    this.released = true;
    this.wake();
  }

  private readonly wake = (): void => {
    if (this.recheck) clearTimeout(this.recheck);
    this.recheck = null;
    if (!this.released && this.ws.bufferedAmount > DRAINED_BELOW_BYTES) {
      if (this.awaitingDrain) return;
      this.awaitingDrain = true;
      const onDrain = (): void => {
        this.awaitingDrain = false;
        this.wake();
      };
      if (!onceDrained(this.ws, onDrain)) this.recheck = setTimeout(onDrain, DRAIN_RECHECK_MS);
      return;
    }
    const batch = this.released ? this.waiters.length : WAKE_PER_DRAIN;
    for (const wake of this.waiters.splice(0, batch)) wake();
    // Those woken may end without writing anything (done, unsubscribed): look again shortly,
    // which only ever happens while the socket is not congested and someone still waits.
    if (this.waiters.length > 0) this.recheck = setTimeout(this.wake, DRAIN_RECHECK_MS);
  };
}
