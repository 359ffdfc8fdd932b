/**
 * The gateway's WebSocket class (`WebSocketServer`'s `WebSocket` option): a `ws` socket that knows
 * its session, so that one set of listener functions serves every socket (a closure per socket
 * per event, and the server's own per-socket close listener, were ~0.5 KB of heap per idle socket).
 */
import { WebSocket, type RawData } from 'ws';
import type { Session } from './session.js';

export class SessionSocket extends WebSocket {
  session: Session | null = null;
}

// `ws` calls listeners with the socket as `this` (typed as its base class).
const sessionOf = (ws: WebSocket): Session | null => (ws as SessionSocket).session;
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  sessionOf(this)?.receive(data, isBinary);
}
function onPong(this: WebSocket): void {
  const session = sessionOf(this);
  if (session) session.unansweredPings = 0;
}
function onClose(this: WebSocket): void {
  const session = sessionOf(this);
  if (!session) return;
  session.release();
  session.deps.closed(session);
}
/** 'close' follows an 'error'; nothing to add. */
function ignoreError(): void {}

/** Binds `session` to its socket: the shared listeners find it on the socket. */
export function attachSession(ws: SessionSocket, session: Session): void {
  ws.session = session;
  ws.on('message', onMessage);
  ws.on('pong', onPong);
  ws.on('close', onClose);
  ws.on('error', ignoreError);
}
