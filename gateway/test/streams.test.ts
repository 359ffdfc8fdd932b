/**
 * Streams over HTTP (docs/protocol.md "Streams over HTTP"): SSE in the first dashboard's event
 * form and `output.txt?follow=1`, pushed by the same subscription as a WebSocket — every line
 * once and in order across the replay→live switch, resumed by Last-Event-ID, ended after `done`.
 */
import { Agent, get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { seededRandom, testSeed } from '../../shared/testing/seeded-random.js';
import { range, startHarness, token, writeInRandomBatches, type Harness } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness({ maxSocketsPerUser: 3 });
  redis = h.redis.client();
});
afterAll(() => h.stop());

interface SseEvent {
  event: string;
  id?: string;
  data: unknown;
}

/**
 * Reads an SSE response to its end (or until `stop` says so), parsed into events; `seen` is told
 * the events so far each time more arrive.
 */
async function readEvents(
  res: Response,
  stop?: (events: SseEvent[]) => boolean,
  seen?: (events: SseEvent[]) => void,
): Promise<{ events: SseEvent[]; raw: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let raw = '';
  const events: SseEvent[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    raw += decoder.decode(value, { stream: true });
    const blocks = raw.split('\n\n');
    events.length = 0;
    for (const block of blocks.slice(0, -1)) {
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':') && l.includes(': '))
          .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
      ) as Record<string, string>;
      if (fields.event)
        events.push({
          event: fields.event,
          ...(fields.id ? { id: fields.id } : {}),
          data: JSON.parse(fields.data ?? 'null'),
        });
    }
    seen?.(events);
    if (stop?.(events)) {
      await reader.cancel();
      break;
    }
  }
  return { events, raw };
}

const stream = (
  id: string,
  init: { query?: string; headers?: Record<string, string>; bearer?: string } = {},
) =>
  fetch(`${h.gateway.url}/api/jobs/${id}/stream${init.query ?? ''}`, {
    headers: {
      ...(init.bearer === '' ? {} : { authorization: `Bearer ${init.bearer ?? token('alice')}` }),
      ...init.headers,
    },
  });

async function runningJob(lines = 0): Promise<string> {
  const id = `${h.redis.namespace()}-sse`;
  await createJob(redis, { id, owner: 'alice', title: 'streamed' });
  await setJobStatus(redis, id, 'running');
  if (lines > 0)
    await appendLines(
      redis,
      id,
      range(1, lines).map((n) => ({ stream: 'stdout' as const, line: `line ${n}` })),
    );
  return id;
}

it('SSE: status, one output event per line with id, then live lines, done, and the end', async () => {
  const id = await runningJob(3);
  const res = await stream(id);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
  expect(res.headers.get('x-accel-buffering')).toBe('no');
  // Live lines are written once the replay has arrived: written earlier, the stream's first
  // status could already be the job's end.
  let replayed!: () => void;
  const replayArrived = new Promise<void>((resolve) => (replayed = resolve));
  const reading = readEvents(res, undefined, (events) => {
    if (events.filter((e) => e.event === 'output').length >= 3) replayed();
  });
  await replayArrived;
  await appendLines(redis, id, [{ stream: 'stderr', line: 'live 4' }]);
  await setJobStatus(redis, id, 'success');
  const { events, raw } = await reading;
  expect(raw.startsWith('retry: 3000\n\n')).toBe(true);
  expect(events[0]).toMatchObject({ event: 'status', data: { id, status: 'running' } });
  const outputs = events.filter((e) => e.event === 'output');
  expect(outputs.map((e) => e.id)).toEqual(['1', '2', '3', '4']);
  expect(outputs[3]!.data).toMatchObject({
    seq: 4,
    stream: 'stderr',
    line: 'live 4',
    timestamp: expect.any(Number),
  });
  expect(events.at(-1)).toEqual({ event: 'done', data: { status: 'success', lastSeq: 4 } });
});

it('resumes from Last-Event-ID, else ?since= or ?tail=', async () => {
  const id = await runningJob(10);
  await setJobStatus(redis, id, 'success');
  const seqs = async (init: Parameters<typeof stream>[1]) =>
    (await readEvents(await stream(id, init))).events
      .filter((e) => e.event === 'output')
      .map((e) => Number(e.id));
  expect(await seqs({ headers: { 'last-event-id': '7' } })).toEqual([8, 9, 10]);
  expect(await seqs({ query: '?since=8' })).toEqual([9, 10]);
  expect(await seqs({ query: '?tail=2' })).toEqual([9, 10]);
  expect((await stream(id, { query: '?since=1&tail=2' })).status).toBe(400);
});

it('a browser stream token works in the URL; a sign-in token there does not; someone else gets 404', async () => {
  const id = await runningJob(2);
  await setJobStatus(redis, id, 'success');
  const issued = await fetch(`${h.gateway.url}/api/jobs/${id}/stream-token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token('alice')}` },
  });
  const { url } = (await issued.json()) as { url: string };
  const viaToken = await readEvents(await fetch(`${h.gateway.url}${url}`));
  expect(viaToken.events.filter((e) => e.event === 'output')).toHaveLength(2);
  expect((await stream(id, { bearer: '', query: `?access_token=${token('alice')}` })).status).toBe(401);
  expect((await stream(id, { bearer: token('bob') })).status).toBe(404);
});

it('open streams count toward MAX_SOCKETS_PER_USER', async () => {
  const id = await runningJob();
  const open = await Promise.all([
    stream(id, { bearer: token('carol', 'admin') }),
    stream(id, { bearer: token('carol', 'admin') }),
    stream(id, { bearer: token('carol', 'admin') }),
  ]);
  expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
  const fourth = await stream(id, { bearer: token('carol', 'admin') });
  expect(fourth.status).toBe(429);
  await fourth.text();
  for (const r of open) await r.body!.cancel();
  await setJobStatus(redis, id, 'success');
});

it('output.txt?follow=1 answers at once on a job with no lines yet, then sends them as they come', async () => {
  const id = await runningJob();
  const res = await fetch(`${h.gateway.url}/api/jobs/${id}/output.txt?follow=1`, {
    headers: { authorization: `Bearer ${token('alice')}` },
  }); // before, the headers waited for the first line: this never resolved
  expect(res.status).toBe(200);
  await appendLines(redis, id, [{ stream: 'stdout', line: 'first' }]);
  await setJobStatus(redis, id, 'success');
  expect(await res.text()).toBe('first\n');
});

it('output.txt?follow=1 keeps coming until the job ends, exact across the replay→live switch', async () => {
  const random = seededRandom(testSeed('FOLLOW_SEED', 'output.txt follow'));
  const id = await runningJob();
  const total = 3000;
  const writer = writeInRandomBatches(redis, id, {
    total,
    random,
    maxBatch: 30,
    line: (seq) => `\u001b[32mline ${seq}\u001b[0m`,
  });
  await new Promise((resolve) => setTimeout(resolve, 20)); // some lines replayed, the rest live
  const res = await fetch(`${h.gateway.url}/api/jobs/${id}/output.txt?follow=1`, {
    headers: { authorization: `Bearer ${token('alice')}` },
  });
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  await writer.done;
  expect(text).toBe(
    range(1, total)
      .map((n) => `line ${n}\n`)
      .join(''),
  ); // ANSI stripped, as the download
});

// Last: it restarts the gateway.
it('a gateway shutting down aborts output.txt?follow=1 (an error, not an end) and ends SSE cleanly for its EventSource to resume', async () => {
  const id = await runningJob(2);
  // Keep-alive connections of their own, as a browser's EventSource and curl hold them.
  const agent = new Agent({ keepAlive: true });
  const open = (path: string) =>
    new Promise<IncomingMessage>((resolve, reject) =>
      get(
        `${h.gateway.url}${path}`,
        { agent, headers: { authorization: `Bearer ${token('alice')}` } },
        resolve,
      ).on('error', reject),
    );
  const follow = await open(`/api/jobs/${id}/output.txt?follow=1`);
  const sse = await open(`/api/jobs/${id}/stream`);
  /** How the response ended, once it holds `lines` lines (a stream stopped before its replay
   * would rightly end with none). */
  const read = (res: IncomingMessage, lines: (text: string) => number) => {
    let text = '';
    let replayed!: () => void;
    const hasLines = new Promise<void>((resolve) => (replayed = resolve));
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      if (lines(text) === 2) replayed();
    });
    const ended = new Promise<string>((resolve) => {
      res.once('end', () => resolve(`ended after ${lines(text)} lines`));
      res.once('aborted', () => resolve('error'));
      res.once('error', () => resolve('error'));
    });
    return { hasLines, ended };
  };
  const followed = read(follow, (text) => text.split('\n').length - 1);
  const streamed = read(sse, (text) => text.split('event: output').length - 1);
  await Promise.all([followed.hasLines, streamed.hasLines]);
  const stopping = Date.now();
  await h.stack.restartGateway(async () => {
    // the old gateway has stopped: the ended SSE response's idle connection did not hold it up
    // until its keep-alive timeout (it took the whole 2 s stop deadline before)
    expect(Date.now() - stopping).toBeLessThan(1500);
  });
  expect(await followed.ended).toBe('error'); // a `curl -N` exits non-zero: the log is not complete
  expect(await streamed.ended).toBe('ended after 2 lines');
  agent.destroy();
  await setJobStatus(redis, id, 'success');
});
