/**
 * A plain `ws` server on a free loopback port, for tests of the `ws` internals the gateway uses
 * (ws-internals.test.ts, write-coalescer.test.ts): started before the file's tests, stopped after.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from '@jest/globals';
import { WebSocketServer } from 'ws';

export interface WsTestServer {
  readonly wss: WebSocketServer;
  /** ws://127.0.0.1:<port>, once the file's tests run. */
  readonly url: string;
}

export function wsTestServer(): WsTestServer {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const handle = { wss, url: '' };
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    handle.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  return handle;
}
