/**
 * Write coalescing (gateway/src/stream/write-coalescer.ts) on real sockets: the frames a socket gets in
 * one event-loop turn reach the kernel in one `writev`, in call order, counted in
 * `bufferedAmount` while they wait (so the high-water mark still applies), and a close flushes
 * them first.
 */
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { WebSocket, WebSocketServer } from 'ws';
import { WriteCoalescer } from '../src/stream/write-coalescer.js';
import { prepareTextFrame, sendPreparedFrame } from '../src/stream/ws-internals.js';
import { wsTestServer } from './ws-test-server.js';

const testServer = wsTestServer();
const { wss } = testServer;

/** A call into a TCP stream's write path: `write` (one chunk) or `writev` (several). */
type Syscall = { kind: 'write' | 'writev'; chunks: number };

/** Records into `syscalls` every call into `stream`'s write path (Node makes each one syscall). */
function recordSyscalls(stream: unknown, syscalls: Syscall[] = []): Syscall[] {
  const writable = stream as {
    _write: (...args: unknown[]) => void;
    _writev: (chunks: unknown[], ...rest: unknown[]) => void;
  };
  const write = writable._write.bind(writable);
  const writev = writable._writev.bind(writable);
  writable._write = (...args: unknown[]) => {
    syscalls.push({ kind: 'write', chunks: 1 });
    write(...args);
  };
  writable._writev = (chunks: unknown[], ...rest: unknown[]) => {
    syscalls.push({ kind: 'writev', chunks: chunks.length });
    writev(chunks, ...rest);
  };
  return syscalls;
}

interface Connection {
  ws: WebSocket;
  syscalls: Syscall[];
  /** Resolves with the first `count` messages the client receives. */
  receive(count: number): Promise<string[]>;
  client: WebSocket;
}

async function connection(): Promise<Connection> {
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(testServer.url);
  const messages: string[] = [];
  client.on('message', (data) => messages.push(data.toString()));
  const ws = await accepted;
  const syscalls = recordSyscalls((ws as unknown as { _socket: unknown })._socket);
  const receive = async (count: number): Promise<string[]> => {
    while (messages.length < count) await new Promise((resolve) => client.once('message', resolve));
    return messages.slice(0, count);
  };
  return { ws, syscalls, receive, client };
}

const texts = ['{"n":1}', 'b'.repeat(300), '{"n":3}', 'd'.repeat(70_000), '{"n":5}'];

/** Sends every text, alternating `ws.send` and a frame prepared once (as the gateway does). */
function sendAll(ws: WebSocket, writes?: WriteCoalescer): void {
  texts.forEach((text, i) => {
    writes?.hold(ws);
    if (i % 2 === 0) ws.send(Buffer.from(text), { binary: false });
    else expect(sendPreparedFrame(ws, prepareTextFrame(Buffer.from(text))!)).toBe(true);
  });
}

it('writes the frames of one turn in one writev, in call order', async () => {
  const writes = new WriteCoalescer();
  const coalesced = await connection();
  sendAll(coalesced.ws, writes);
  expect(coalesced.syscalls).toEqual([]); // held until the end of the turn
  expect(writes.heldCount).toBe(1);
  expect(await coalesced.receive(texts.length)).toEqual(texts);
  // each frame is a header and a payload: 10 chunks, one call
  expect(coalesced.syscalls).toEqual([{ kind: 'writev', chunks: texts.length * 2 }]);
  expect(writes.heldCount).toBe(0);

  // the same frames without coalescing: one call per frame at least
  const plain = await connection();
  sendAll(plain.ws);
  expect(await plain.receive(texts.length)).toEqual(texts);
  expect(plain.syscalls.length).toBeGreaterThan(1);
});

it('counts held frames in bufferedAmount, so the high-water mark still sees them', async () => {
  const writes = new WriteCoalescer();
  const { ws, receive } = await connection();
  writes.hold(ws);
  ws.send(Buffer.alloc(100_000, 0x61), { binary: false });
  expect(ws.bufferedAmount).toBeGreaterThanOrEqual(100_000);
  await receive(1);
  expect(ws.bufferedAmount).toBe(0);
});

it('holds each socket once per turn and starts again the next turn', async () => {
  const writes = new WriteCoalescer();
  const a = await connection();
  const b = await connection();
  for (let turn = 0; turn < 3; turn++) {
    for (const c of [a, b, a, b]) {
      writes.hold(c.ws);
      c.ws.send(`turn ${turn}`);
    }
    expect(writes.heldCount).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes.heldCount).toBe(0);
  }
  const expected = [0, 0, 1, 1, 2, 2].map((t) => `turn ${t}`);
  expect(await a.receive(6)).toEqual(expected);
  expect(await b.receive(6)).toEqual(expected);
  expect(a.syscalls.map((s) => s.chunks)).toEqual([4, 4, 4]); // two frames of two chunks a turn
});

it('a close in the same turn flushes the held frames before the close frame', async () => {
  const writes = new WriteCoalescer();
  const { ws, client, receive } = await connection();
  const closed = new Promise<number>((resolve) => client.once('close', resolve));
  writes.hold(ws);
  ws.send('last words');
  ws.close(4001, 'token expired');
  expect(await receive(1)).toEqual(['last words']);
  expect(await closed).toBe(4001);
});

describe('an upgrading socket held before the handshake', () => {
  /** An HTTP server whose upgrades are held, then handed to `ws`, which says `hello`. */
  async function upgradeServer(): Promise<{
    url: string;
    syscalls: Syscall[];
    close: () => Promise<void>;
  }> {
    const writes = new WriteCoalescer();
    const upgrades = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    const http = createServer();
    const syscalls: Syscall[] = [];
    http.on('upgrade', (request, socket: Duplex, head) => {
      recordSyscalls(socket, syscalls);
      writes.holdStream(socket);
      upgrades.handleUpgrade(request, socket, head, (ws) => ws.send('{"type":"hello"}'));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return {
      url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`,
      syscalls,
      close: () => new Promise((resolve) => http.close(() => resolve())),
    };
  }

  it('writes the 101 and the first frame in one writev', async () => {
    const server = await upgradeServer();
    const client = new WebSocket(server.url);
    const hello = await new Promise<string>((resolve) =>
      client.once('message', (d) => resolve(d.toString())),
    );
    expect(hello).toBe('{"type":"hello"}');
    // the 101 response, and the frame's header and payload
    expect(server.syscalls).toEqual([{ kind: 'writev', chunks: 3 }]);
    client.terminate();
    await server.close();
  });

  it('still answers a handshake ws refuses (ws ends the socket, which writes what is held)', async () => {
    const server = await upgradeServer();
    const { port } = new URL(server.url);
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write(
          'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: not-a-key\r\n\r\n',
        ),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(response).toMatch(/^HTTP\/1\.1 400 /);
    await server.close();
  });
});
