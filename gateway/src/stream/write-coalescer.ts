/**
 * One write per socket per event-loop turn. A Redis reply carries many pub/sub messages, and a
 * socket watching many jobs (a wall display, a dashboard with many panes) gets a frame for each;
 * written one by one, each is its own syscall. The first frame a socket gets in a turn corks its
 * TCP stream; at the end of the turn (`process.nextTick`, after the Redis chunk's messages were
 * all dispatched) every corked stream is uncorked once, and Node hands its frames to the kernel
 * in one `writev`.
 *
 * Nothing else changes: frames keep their order (they sit in the stream's own buffer, in call
 * order), `bufferedAmount` counts them while they wait, so the high-water mark still stops a
 * congested socket, and `close`/`end` flush a corked stream before closing it.
 */
import type { WebSocket } from 'ws';
import { streamOf, type CorkableStream } from './ws-internals.js';

export class WriteCoalescer {
  private corked: CorkableStream[] = [];
  private flushScheduled = false;

  /** Holds `ws`'s writes until the end of this turn; call before each write (cheap when held). */
  hold(ws: WebSocket): void {
    const stream = streamOf(ws);
    if (stream) this.holdStream(stream);
  }

  /**
   * Holds a TCP stream's writes until the end of this turn: an upgrading socket's, so that the
   * `101 Switching Protocols` and the `hello` frame after it go out in one write. (`ws` ends a
   * socket whose handshake it refuses with `end()`, which writes what is held first.)
   */
  holdStream(stream: CorkableStream): void {
    // Corked already means held this turn: `ws` corks only within one frame's write, and no
    // frame is being written while the gateway decides to send the next one.
    if (stream.writableCorked > 0) return;
    stream.cork();
    this.corked.push(stream);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  /** Sockets corked now (for tests). */
  get heldCount(): number {
    return this.corked.length;
  }

  /** Uncorks every stream held this turn: each writes what it got in one syscall. */
  readonly flush = (): void => {
    this.flushScheduled = false;
    const corked = this.corked;
    this.corked = [];
    for (const stream of corked) stream.uncork();
  };
}
