/**
 * Every `ws` internal the gateway touches, in one place (as engine.io does for Socket.IO
 * broadcasts): a published message is framed once — `WebSocket.Sender.frame` — and the same frame
 * bytes are handed to each watcher's `_sender.sendFrame`, instead of each socket framing it again.
 * Used only behind a capability check, and only when the socket's sender is idle (not compressing,
 * not reading a Blob — the gateway does neither, but a queued frame must never be overtaken);
 * otherwise the public `ws.send` is used. `gateway/test/ws-internals.test.ts` fails loudly if an
 * upgrade of `ws` (pinned exactly in package.json) changes what this relies on. The TCP stream
 * under a socket (`_socket`) is reached here too, for write coalescing (write-coalescer.ts) and
 * to wake a congested socket's subscriptions on its `drain` instead of a timer.
 */
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';

/** A frame ready for the wire: header and payload, as `Sender.frame` returns them. */
export type PreparedFrame = readonly Buffer[];

interface SenderStatics {
  frame(
    data: Buffer,
    options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
  ): Buffer[];
}
interface SenderInstance {
  _state?: number;
  sendFrame(list: PreparedFrame): void;
}

/** The opcode of a text frame (RFC 6455). */
const TEXT_OPCODE = 1;
/** `ws`'s Sender state when nothing is queued (lib/sender.js: DEFAULT). */
const SENDER_IDLE = 0;

// `Sender` is a named export of ws's ESM wrapper (and a static of WebSocket in its CommonJS
// entry); @types/ws does not declare it.
const Sender =
  (wsModule as unknown as { Sender?: Partial<SenderStatics> }).Sender ??
  (wsModule.WebSocket as unknown as { Sender?: Partial<SenderStatics> }).Sender;

/** True when this `ws` has what frame-once needs; false falls back to `ws.send` everywhere. */
export const canSendPreparedFrames = typeof Sender?.frame === 'function';

/** Frames a text message once, for any number of sockets (server frames are never masked). */
export function prepareTextFrame(data: Buffer): PreparedFrame | null {
  if (!canSendPreparedFrames) return null;
  return Sender!.frame!(data, { fin: true, opcode: TEXT_OPCODE, mask: false, readOnly: true, rsv1: false });
}

/**
 * Writes a prepared frame to an open socket; false when it cannot (then send the data with
 * `ws.send` instead). Byte for byte what `ws.send(data, { binary: false })` writes.
 */
export function sendPreparedFrame(ws: WebSocket, frame: PreparedFrame): boolean {
  const sender = (ws as unknown as { _sender?: SenderInstance })._sender;
  if (!sender || typeof sender.sendFrame !== 'function') return false;
  // Fail closed: a sender whose state cannot be read as idle may have a frame queued, which a
  // prepared frame must never overtake; the public path queues correctly.
  if (sender._state !== SENDER_IDLE) return false;
  sender.sendFrame(frame);
  return true;
}

/** What write coalescing needs of a socket's TCP stream (`net.Socket`, Node's Writable). */
export interface CorkableStream {
  cork(): void;
  uncork(): void;
  /** How many `cork` calls are not yet matched by `uncork` (Node's Writable). */
  readonly writableCorked: number;
}

/**
 * The TCP stream under a `ws` socket (`_socket`), or null when there is none yet (or it is gone).
 * `ws` writes every frame to it with `write`, so writes made while it is corked are held in its
 * Writable buffer (counted in `bufferedAmount`) and go out in one `writev` when it is uncorked.
 */
export function streamOf(ws: WebSocket): CorkableStream | null {
  const stream = (ws as unknown as { _socket?: Partial<CorkableStream> | null })._socket;
  return stream &&
    typeof stream.cork === 'function' &&
    typeof stream.uncork === 'function' &&
    typeof stream.writableCorked === 'number'
    ? (stream as CorkableStream)
    : null;
}

/**
 * Calls `callback` once the TCP stream under `ws` has written everything it held (its `drain`),
 * or closed. `ws` has no drain event of its own, and its `bufferedAmount` is that stream's
 * buffer (plus a sender queue the gateway never fills). False when the stream cannot be reached:
 * the caller then falls back to looking again on a timer.
 */
export function onceDrained(ws: WebSocket, callback: () => void): boolean {
  const stream = (ws as unknown as { _socket?: { once?: unknown; off?: unknown } | null })._socket;
  if (!stream || typeof stream.once !== 'function' || typeof stream.off !== 'function') return false;
  const emitter = stream as NodeJS.EventEmitter;
  const done = (): void => {
    emitter.off('drain', done);
    emitter.off('close', done);
    callback();
  };
  emitter.once('drain', done);
  emitter.once('close', done);
  return true;
}
