/**
 * Guarantee 5, measured: a stalled reader costs the gateway a bounded amount of memory, not one
 * that grows with the job. The gateway runs as a process of its own so its RSS is its own; readers
 * stall by pausing their TCP socket (the kernel buffers fill, the gateway's send buffer fills,
 * then the subscription keeps only its position), over WebSocket and over HTTP streams (SSE,
 * output.txt?follow=1) alike. Afterwards the reader gets every line once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { freePort, PrivateRedis } from '../../scripts/lib/private-redis.js';
import type { ServerFrame } from '../../shared/protocol.js';
import { cpuSeconds } from '../../scripts/lib/processes.js';
import { SECRET, token, TestClient } from './harness.js';

const MB = 1024 * 1024;
/** Lines per append: a runner streaming steadily (JobPublisher batches by time, 10 ms). */
const BATCH_LINES = 100;
let server: PrivateRedis;
let redis: Redis;
let gateway: ChildProcess;
let url: string;

beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  gateway = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts'], {
    env: {
      ...process.env,
      JWT_SECRET: SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: server.url,
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    gateway.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${seen}`)));
    gateway.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('jobstream gateway on')) resolve();
    });
  });
}, 30_000);

afterAll(async () => {
  const exited = new Promise((resolve) => gateway.once('exit', resolve));
  gateway.kill('SIGTERM');
  await exited;
  await server.stop();
}, 20_000);

function gatewayRss(): number {
  const status = readFileSync(`/proc/${gateway.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const stall = (client: TestClient): Duplex => {
  const tcp = (client.ws as unknown as { _socket: Duplex })._socket;
  tcp.pause();
  return tcp;
};

/** The last line has arrived (a predicate on one frame: cheap enough for 100,000 lines). */
const lastLine =
  (id: string, seq: number) =>
  (f: ServerFrame): boolean =>
    f.type === 'output' && f.jobId === id && f.lines.at(-1)?.seq === seq;

/** Writes `lines` lines of ~`bytes` bytes in batches, sampling the gateway's RSS as it goes. */
async function writeJob(id: string, lines: number, bytes: number): Promise<number> {
  const line = 'x'.repeat(bytes - 60); // the stored entry adds its seq, ts and stream
  let peak = 0;
  for (let written = 0; written < lines; written += BATCH_LINES) {
    await appendLines(
      redis,
      id,
      Array.from({ length: Math.min(BATCH_LINES, lines - written) }, () => ({
        stream: 'stdout' as const,
        line,
      })),
    );
    peak = Math.max(peak, gatewayRss());
  }
  return peak;
}

async function runningJob(name: string): Promise<string> {
  const id = `${server.namespace()}-${name}`;
  await createJob(redis, { id, owner: 'alice', title: name });
  await setJobStatus(redis, id, 'running');
  return id;
}

async function subscribed(id: string): Promise<TestClient> {
  const client = await TestClient.connect(url, { token: token('alice') });
  client.send({ type: 'subscribe', jobId: id });
  await client.waitFor((f) => f.type === 'status');
  return client;
}

it('a reader stalled through a 50 MB job grows gateway RSS by at most 48 MB, then gets every line once', async () => {
  const warm = await runningJob('warm');
  await writeJob(warm, 5000, 500); // warm up allocators and JIT so the baseline is honest
  const id = await runningJob('stalled-50mb');
  const reader = await subscribed(id);
  const tcp = stall(reader);
  const before = gatewayRss();
  const lines = 100_000; // × 500 bytes = 50 MB, within JOBSTREAM_MAX_LINES
  const peak = await writeJob(id, lines, 500);
  const growth = Math.max(peak, gatewayRss()) - before;
  console.log(`one stalled reader, 50 MB job: gateway RSS +${(growth / MB).toFixed(1)} MB`);
  expect(growth).toBeLessThan(48 * MB);

  tcp.resume();
  await reader.waitFor(lastLine(id, lines), 60_000);
  await setJobStatus(redis, id, 'success');
  await reader.waitFor((f) => f.type === 'done', 20_000);
  const seqs = reader.seqs(id);
  expect(seqs.length).toBe(lines);
  expect(seqs.every((seq, i) => seq === i + 1)).toBe(true);
  reader.close();
}, 120_000);

it('200 stalled readers of one job stay under 1 MB each', async () => {
  const id = await runningJob('stalled-200');
  const readers = await Promise.all(Array.from({ length: 200 }, () => subscribed(id)));
  const sockets = readers.map(stall);
  const before = gatewayRss();
  const lines = 20_000; // × 500 bytes = 10 MB
  const peak = await writeJob(id, lines, 500);
  const perReader = (Math.max(peak, gatewayRss()) - before) / readers.length;
  console.log(`200 stalled readers, 10 MB job: gateway RSS +${(perReader / 1024).toFixed(0)} KB per reader`);
  expect(perReader).toBeLessThan(1 * MB);

  // a few of them resume and catch up exactly; the rest leave
  const sample = readers.slice(0, 5);
  for (const tcp of sockets) tcp.resume();
  for (const reader of readers.slice(5)) reader.close();
  for (const reader of sample) {
    await reader.waitFor(lastLine(id, lines), 60_000);
    const seqs = reader.seqs(id);
    expect(seqs.length).toBe(lines);
    expect(seqs.every((seq, i) => seq === i + 1)).toBe(true);
    reader.close();
  }
}, 120_000);

/** A response from the gateway at `path` (alice's), paused as soon as it starts: a stalled reader. */
async function stalledHttpReader(path: string): Promise<{ text: () => Promise<string> }> {
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${url}${path}`, { headers: { authorization: `Bearer ${token('alice')}` } }, resolve).on(
      'error',
      reject,
    ),
  );
  expect(res.statusCode).toBe(200);
  res.pause();
  return {
    text: () =>
      new Promise<string>((resolve, reject) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.once('end', () => resolve(text));
        res.once('error', reject);
        res.resume();
      }),
  };
}

it('stalled readers of the SSE stream and of output.txt?follow=1 hold no growing buffer, then get every line once', async () => {
  const id = await runningJob('stalled-http');
  const sse = await stalledHttpReader(`/api/jobs/${id}/stream`);
  const follow = await stalledHttpReader(`/api/jobs/${id}/output.txt?follow=1`);
  const before = gatewayRss();
  const lines = 100_000; // × 500 bytes = 50 MB, each reader owed it all
  const peak = await writeJob(id, lines, 500);
  const growth = Math.max(peak, gatewayRss()) - before;
  console.log(
    `a stalled SSE and a stalled follow reader, 50 MB job: gateway RSS +${(growth / MB).toFixed(1)} MB`,
  );
  expect(growth).toBeLessThan(48 * MB); // both buffered would be over 100 MB

  await setJobStatus(redis, id, 'success');
  const [events, text] = await Promise.all([sse.text(), follow.text()]);
  const ids = [...events.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  expect(ids.length).toBe(lines);
  expect(ids.every((seq, i) => seq === i + 1)).toBe(true);
  expect(events.endsWith(`event: done\ndata: {"status":"success","lastSeq":${lines}}\n\n`)).toBe(true);
  expect(text.split('\n').length - 1).toBe(lines);
}, 180_000);

/** A finished job of `lines` lines of ~`bytes` bytes, written in batches of 1,000. */
async function finishedJob(name: string, lines: number, bytes: number): Promise<string> {
  const id = `${server.namespace()}-${name}`;
  await createJob(redis, { id, owner: 'alice', title: name });
  const line = 'y'.repeat(bytes - 60);
  for (let written = 0; written < lines; written += 1000)
    await appendLines(
      redis,
      id,
      Array.from({ length: Math.min(1000, lines - written) }, () => ({ stream: 'stdout' as const, line })),
    );
  await setJobStatus(redis, id, 'success');
  return id;
}

it('stalled sockets with 100 replaying subscriptions each hold no pages and burn no CPU', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 100; i++) ids.push(await finishedJob(`replaying-${i}`, 3000, 300));
  const before = gatewayRss();
  const readers = await Promise.all([1, 2, 3].map(() => TestClient.connect(url, { token: token('alice') })));
  const sockets = readers.map(stall);
  for (const reader of readers) for (const id of ids) reader.send({ type: 'subscribe', jobId: id });
  // A measured window, not a wait for an event: the gateway fills what the kernel takes, then
  // every subscription should sit on its position only.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const cpuBefore = cpuSeconds(gateway.pid!);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const cpu = cpuSeconds(gateway.pid!) - cpuBefore;
  const growth = gatewayRss() - before;
  console.log(
    `3 stalled sockets × 100 replaying subscriptions: RSS +${(growth / MB).toFixed(1)} MB, ` +
      `CPU ${(cpu * 1000).toFixed(0)} ms over 2 s`,
  );
  expect(growth).toBeLessThan(40 * MB); // was ~140 MB a socket: a page sent plus one read ahead per subscription
  expect(cpu).toBeLessThan(0.1); // was a 10 ms poll per subscription

  // Resumed, one of them gets every line of every job once.
  for (const tcp of sockets) tcp.resume();
  for (const reader of readers.slice(1)) reader.close();
  const [reader] = readers;
  await reader!.waitFor(() => reader!.frames.filter((f) => f.type === 'done').length === ids.length, 60_000);
  for (const id of ids) expect(reader!.seqs(id)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  reader!.close();
}, 180_000);

it('a stalled socket on the feed and a job whose metadata changes 3,000 times holds no queue of them', async () => {
  const id = await runningJob('busy-metadata');
  const reader = await TestClient.connect(url, { token: token('alice', 'admin') });
  reader.send({ type: 'watch', topic: 'jobs' });
  await reader.waitFor((f) => f.type === 'watching');
  reader.send({ type: 'subscribe', jobId: id });
  await reader.waitFor((f) => f.type === 'status');
  const tcp = stall(reader);
  const before = gatewayRss();
  const title = (n: number): string => `${n} `.padEnd(4000, 'z');
  let peak = 0;
  for (let n = 1; n <= 3000; n++) {
    await setJobStatus(redis, id, 'running', { title: title(n) });
    if (n % 100 === 0) peak = Math.max(peak, gatewayRss());
  }
  const growth = peak - before;
  console.log(`stalled feed watcher, 3,000 × 4 KB status changes: RSS +${(growth / MB).toFixed(1)} MB`);
  tcp.resume();
  // What it is owed: a feed gap (list again) and the job's latest status, not 6,000 frames.
  await reader.waitFor((f) => f.type === 'gap' && 'topic' in f, 20_000);
  await reader.waitFor((f) => f.type === 'status' && f.job.title === title(3000), 20_000);
  const statuses = reader.frames.filter((f) => f.type === 'status').length;
  console.log(`frames after resuming: ${reader.frames.length} (${statuses} status)`);
  expect(statuses).toBeLessThan(3000);
  expect(growth).toBeLessThan(16 * MB); // 6,000 frames of 4 KB queued would be 25 MB
  reader.close();
}, 120_000);
