/**
 * The HTTP runner's request loop (shared/runner/ingest-client.ts) against a real HTTP server:
 * what it sends, and how it waits through a gateway that cannot serve now. The gateway's side of
 * ingest is tested in gateway/test/ingest.test.ts; this is the client's own behaviour.
 */
import { afterEach, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IngestClient } from '../runner/ingest-client.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

interface Seen {
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** A server answering each request with the next of `answers` (the last one repeats). */
async function serve(answers: ((res: ServerResponse) => void)[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ headers: req.headers, body, at: Date.now() });
      (answers[seen.length - 1] ?? answers.at(-1)!)(res);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  (res: ServerResponse) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

it('sends JSON with its length and the bearer token, and returns a 4xx answer as it is', async () => {
  const { url, seen } = await serve([
    json(409, { error: { code: 'seq_mismatch', message: 'at 7' }, lastSeq: 7 }),
  ]);
  const client = new IngestClient(url, 'tok', { initialMs: 10, maxMs: 10 }, () => undefined);
  const line = 'naïve — ✓';
  const answer = await client.post('/api/jobs/j/lines', { after: 3, lines: [{ line }] });
  expect(answer).toEqual({
    status: 409,
    body: { error: { code: 'seq_mismatch', message: 'at 7' }, lastSeq: 7 },
  });
  expect(seen).toHaveLength(1);
  expect(seen[0]!.headers.authorization).toBe('Bearer tok');
  expect(seen[0]!.headers['content-type']).toBe('application/json');
  // A length, not chunks (a proxy may refuse a chunked body), counted in bytes, not characters.
  expect(seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength(seen[0]!.body)));
  expect(seen[0]!.headers['transfer-encoding']).toBeUndefined();
  expect(JSON.parse(seen[0]!.body)).toEqual({ after: 3, lines: [{ line }] });
});

it('waits at least Retry-After through a 503 and a 429, then returns the answer that came', async () => {
  const { url, seen } = await serve([
    json(503, { error: { code: 'unavailable', message: 'draining' } }, { 'retry-after': '1' }),
    json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '1' }),
    json(200, { lastSeq: 4 }),
  ]);
  const retries: string[] = [];
  // A backoff far shorter than Retry-After: only the header can make it wait a second.
  const client = new IngestClient(url, 'tok', { initialMs: 5, maxMs: 5 }, (e) => retries.push(e.message));
  expect(await client.post('/api/jobs/j/lines', { after: 0, lines: [] })).toEqual({
    status: 200,
    body: { lastSeq: 4 },
  });
  expect(retries).toEqual(['/api/jobs/j/lines: HTTP 503 draining', '/api/jobs/j/lines: HTTP 429 slow down']);
  expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(990);
  expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(990);
});

it('retries through a refused connection and gives up, saying so, after giveUpAfterMs', async () => {
  const { url } = await serve([json(200, {})]);
  await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
  const retries: Error[] = [];
  const client = new IngestClient(url, 'tok', { initialMs: 20, maxMs: 20 }, (e) => retries.push(e), 200);
  await expect(client.post('/api/jobs', {})).rejects.toThrow(
    `the gateway at ${url} did not answer /api/jobs for 0 s (last: connect ECONNREFUSED`,
  );
  expect(retries.length).toBeGreaterThan(1);
  expect(retries[0]!.message).toMatch(/ECONNREFUSED/);
});
