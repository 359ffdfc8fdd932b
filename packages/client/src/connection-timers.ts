/**
 * The two clocks a browser socket keeps while it is open: a `ping` every interval, declaring the
 * connection dead when the previous one went unanswered (browsers cannot see protocol pings, and a
 * dead TCP path can stay "open" for minutes), and a token refresh a minute before the token
 * expires, so the socket is never closed with 4001 while someone is looking.
 */
import { tokenExpiry } from './claims.js';

/** How long before expiry a fresh token is asked for. */
const REFRESH_AHEAD_MS = 60_000;
/** setTimeout's limit; a later expiry is simply not scheduled this far ahead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ConnectionTimers {
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private awaitingPong = false;
  private pingId = 0;

  /** Pings every `intervalMs` with `sendPing(id)`; calls `dead()` when a ping went unanswered. */
  startPing(intervalMs: number, sendPing: (id: number) => void, dead: () => void): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        dead();
        return;
      }
      this.awaitingPong = true;
      sendPing(++this.pingId);
    }, intervalMs);
  }

  pongReceived(): void {
    this.awaitingPong = false;
  }

  /** Calls `refresh()` a minute before `token` expires (replacing any refresh scheduled before). */
  scheduleRefresh(token: string, refresh: () => void): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const expiresAt = tokenExpiry(token);
    if (expiresAt === null) return;
    const refreshIn = Math.max(0, expiresAt - Date.now() - REFRESH_AHEAD_MS);
    this.refreshTimer = setTimeout(refresh, Math.min(refreshIn, MAX_TIMER_MS));
  }

  stop(): void {
    this.stopPing();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.awaitingPong = false;
  }
}
