/**
 * One socket's watch of the jobs feed (`watch` / `unwatch`): the `job` frames of the jobs its
 * principal may see, as published; a congested socket gets no growing queue of them but one
 * feed `gap` once it drains, so the client lists its jobs again (guarantee 6).
 */
import { maySee, type Principal } from '../auth/principal.js';
import type { Fanout, FeedJob, FeedListener } from './fanout.js';
import type { ServerFrame } from '../../../shared/protocol.js';

/** What the watch needs of its socket. */
export interface FeedSocket {
  readonly principal: Principal;
  /** Over the send-buffer high-water mark. */
  congested(): boolean;
  drained(): Promise<void>;
  send(bytes: Buffer): void;
  sendFrame(frame: ServerFrame): void;
}

export class FeedWatch implements FeedListener {
  /** Watching (or asked to, and Redis is confirming it). */
  private watching = false;
  /** Feed frames were dropped while the socket was congested: a feed `gap` is owed. */
  private gapOwed = false;

  constructor(
    private readonly socket: FeedSocket,
    private readonly fanout: Fanout,
  ) {}

  /** Starts watching (once); resolves when Redis confirms it, rejects (not watching) if it did not. */
  async start(confirm: (watching: Promise<void>) => Promise<void>): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    try {
      await confirm(this.fanout.watchFeed(this));
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  stop(): void {
    this.watching = false;
    this.fanout.unwatchFeed(this);
  }

  onFeedFrame(job: FeedJob, bytes: Buffer): void {
    if (!maySee(this.socket.principal, job.owner)) return;
    if (!this.socket.congested()) {
      this.socket.send(bytes);
      return;
    }
    if (this.gapOwed) return;
    this.gapOwed = true;
    void this.socket.drained().then(() => {
      this.gapOwed = false;
      if (this.watching) this.onFeedGap();
    });
  }

  onFeedGap(): void {
    this.socket.sendFrame({ type: 'gap', topic: 'jobs', reason: 'lagged' });
  }
}
