/**
 * Which HTTP connections have no request in flight, so a shutdown can close them at once.
 *
 * `server.close()` closes the connections idle at that moment, but Node counts a connection that
 * has not yet sent a request (a browser's preconnect) as busy, and one whose last response ends
 * afterwards (an SSE stream the shutdown just ended) stays open until its keep-alive timeout.
 * Either held a shutdown up to its whole deadline. WebSocket connections are not HTTP
 * connections here: the sessions close them with their own close frame.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export class IdleConnections {
  /** Every HTTP connection, with how many of its requests are still being answered. */
  private readonly inFlight = new Map<Socket, number>();
  private closing = false;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.inFlight.set(socket, 0);
      if (this.closing) socket.end();
      socket.once('close', () => this.inFlight.delete(socket));
    });
    server.on('request', (req, res) => {
      const socket = req.socket;
      this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
      res.once('finish', () => {
        const left = (this.inFlight.get(socket) ?? 1) - 1;
        this.inFlight.set(socket, left);
        if (left === 0 && this.closing) socket.end();
      });
    });
    // An upgraded connection is a session's now: it closes with its own close frame.
    server.on('upgrade', (_req: unknown, socket: Duplex) => this.inFlight.delete(socket as Socket));
  }

  /** From now on, ends every connection with no request in flight, and each other one as its last response ends. */
  closeAll(): void {
    this.closing = true;
    for (const [socket, requests] of this.inFlight) if (requests === 0) socket.end();
  }
}
