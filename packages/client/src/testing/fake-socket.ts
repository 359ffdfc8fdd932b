/**
 * Test helper: a stand-in for the browser WebSocket that records what the client sends and lets
 * a test answer, for unit tests of JobSocket and the hooks (the real one is tested end to end).
 */
import type { ServerFrame } from '../../../../shared/protocol.js';

export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.deliver({
      type: 'hello',
      protocol: 'jobstream.v1',
      heartbeatMs: 25_000,
      limits: { maxSubscriptions: 200, maxFrameBytes: 65_536, framesPerSecond: 20, burstFrames: 220 },
    });
  }
  deliver(frame: ServerFrame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

/** A JobSocket option that creates FakeSockets. */
export const createFakeSocket = (url: string, protocols: string[]): WebSocket =>
  new FakeSocket(url, protocols) as unknown as WebSocket;
