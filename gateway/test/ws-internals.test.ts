/**
 * The `ws` internals frame-once relies on (gateway/src/stream/ws-internals.ts): present in this version,
 * and byte for byte what `ws.send` writes. A `ws` upgrade that changes them fails here, loudly.
 */
import { expect, it } from '@jest/globals';
import { WebSocket } from 'ws';
import { canSendPreparedFrames, prepareTextFrame, sendPreparedFrame } from '../src/stream/ws-internals.js';
import { wsTestServer } from './ws-test-server.js';

const testServer = wsTestServer();
const { wss } = testServer;

/** A server-side socket whose TCP writes are recorded, and the text its client receives. */
async function recordedConnection(): Promise<{
  ws: WebSocket;
  written: () => Buffer;
  received: Promise<string>;
}> {
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(testServer.url);
  const received = new Promise<string>((resolve) =>
    client.once('message', (data) => resolve(data.toString())),
  );
  const ws = await accepted;
  const tcp = (ws as unknown as { _socket: { write: (chunk: Buffer, ...rest: unknown[]) => boolean } })
    ._socket;
  const chunks: Buffer[] = [];
  const write = tcp.write.bind(tcp);
  tcp.write = (chunk: Buffer, ...rest: unknown[]) => {
    chunks.push(Buffer.from(chunk));
    return write(chunk, ...rest);
  };
  return { ws, written: () => Buffer.concat(chunks), received };
}

it('this ws has Sender.frame and _sender.sendFrame', () => {
  expect(canSendPreparedFrames).toBe(true);
});

it.each([
  ['a short frame', '{"type":"output","jobId":"j","lines":[]}'],
  ['a 16-bit length', 'x'.repeat(300)],
  ['a 64-bit length', 'y'.repeat(70_000)],
])('a prepared frame is byte for byte what ws.send writes (%s)', async (_, text) => {
  const data = Buffer.from(text);
  const plain = await recordedConnection();
  plain.ws.send(data, { binary: false });
  const prepared = await recordedConnection();
  const frame = prepareTextFrame(data)!;
  expect(sendPreparedFrame(prepared.ws, frame)).toBe(true);
  expect(await prepared.received).toBe(text);
  expect(await plain.received).toBe(text);
  expect(prepared.written().equals(plain.written())).toBe(true);
  // one frame serves any number of sockets: it is not consumed by a send
  const again = await recordedConnection();
  expect(sendPreparedFrame(again.ws, frame)).toBe(true);
  expect(await again.received).toBe(text);
});

it('a sender whose state is not idle, or cannot be read, is left to ws.send (fail closed)', async () => {
  const { ws } = await recordedConnection();
  const sender = (ws as unknown as { _sender: { _state?: number } })._sender;
  expect(sender._state).toBe(0); // this ws's idle state, as ws-internals.ts assumes
  const frame = prepareTextFrame(Buffer.from('"x"'))!;
  sender._state = 2; // reading a Blob: a frame is queued
  expect(sendPreparedFrame(ws, frame)).toBe(false);
  delete sender._state; // a ws that no longer keeps this field
  expect(sendPreparedFrame(ws, frame)).toBe(false);
  sender._state = 0;
  expect(sendPreparedFrame(ws, frame)).toBe(true);
});
