/**
 * Reading a server frame's type without parsing it, for the load tester and the benchmarks, which
 * must not spend their CPU on JSON.parse of every line they count.
 *
 * It relies on one promise of the gateway: every frame it sends starts with its `type` field —
 * `{"type":"output",…` — whether built by the function library (shared/redis/lua/) or by
 * the gateway's typed builders (an object literal whose first key is `type`). A frame of any other
 * shape reads as null.
 */
import type { ClientFrame, ServerFrame } from './protocol.js';

export type ServerFrameType = ServerFrame['type'];

const TYPE_PREFIX = '{"type":"';

export function peekFrameType(text: string): ServerFrameType | null {
  if (!text.startsWith(TYPE_PREFIX)) return null;
  const end = text.indexOf('"', TYPE_PREFIX.length);
  return end < 0 ? null : (text.slice(TYPE_PREFIX.length, end) as ServerFrameType);
}

/** Lines in an `output` frame, counted by their entries' `{"seq":` (which only ever starts an entry). */
export function countOutputLines(text: string): number {
  return text.split('{"seq":').length - 1;
}

/** The `code` of an `error` frame, read the same way. */
export function peekErrorCode(text: string): string | null {
  return /"code":"(\w+)"/.exec(text)?.[1] ?? null;
}

/** A client frame as the wire carries it (typed, so a load tester cannot send a malformed one). */
export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
