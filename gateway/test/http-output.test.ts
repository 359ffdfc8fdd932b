/**
 * `GET /api/jobs/:id/output` for programs (docs/protocol.md "HTTP API"): one answer tells a poller
 * where to go on from (`next`), the job's status, and which lines are gone for good (`gap`);
 * `before=` pages backwards for a viewer reading up a long log.
 * Before: only `lastSeq`, the job's, which a client taking it as its next `since` skipped lines by.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { OutputPage } from '../../shared/http-api.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { httpGet, startHarness, token, type Harness } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness({ library: { maxLines: 100, retentionS: 3600, eventsPublish: 'publish' } });
  redis = h.redis.client();
});
afterAll(() => h.stop());

const page = async (id: string, query: string): Promise<OutputPage> => {
  const answer = await httpGet(h.gateway.url, `/api/jobs/${id}/output?${query}`, token('alice'));
  expect(answer.status).toBe(200);
  return answer.body as OutputPage;
};
const seqs = (p: OutputPage): number[] => p.lines.map((l) => l.seq);

it('answers next, the status, and a gap for lines gone; polling with next gets every retained line once', async () => {
  const id = `${h.redis.namespace()}-poll`;
  await createJob(redis, { id, owner: 'alice', title: 'poll' });
  await setJobStatus(redis, id, 'running');
  for (let n = 1; n <= 150; n += 50)
    await appendLines(
      redis,
      id,
      Array.from({ length: 50 }, (_, i) => ({ stream: 'stdout' as const, line: `line ${n + i}` })),
    );

  // The first 50 were trimmed (100 kept): said once, as a gap, and skipped by next.
  const first = await page(id, 'since=0&limit=10');
  expect(seqs(first)).toEqual(Array.from({ length: 10 }, (_, i) => 51 + i));
  expect(first).toMatchObject({ lastSeq: 150, next: 60, status: 'running', gap: { fromSeq: 1, toSeq: 50 } });

  // A poller that follows next gets the rest once, then an empty page that points where it was.
  const rest = await page(id, `since=${first.next}&limit=1000`);
  expect(seqs(rest)).toEqual(Array.from({ length: 90 }, (_, i) => 61 + i));
  expect(rest.next).toBe(150);
  expect(rest.gap).toBeUndefined();
  await setJobStatus(redis, id, 'success');
  const caughtUp = await page(id, `since=${rest.next}`);
  expect(caughtUp).toEqual({ lines: [], lastSeq: 150, next: 150, status: 'success' });

  // Backwards, the same shape: the lines just before `before`, and what is gone before them.
  const back = await page(id, 'before=56&limit=10');
  expect(seqs(back)).toEqual([51, 52, 53, 54, 55]);
  expect(back).toMatchObject({ next: 55, gap: { fromSeq: 46, toSeq: 50 } });
});

it('a download whose head is gone says so where the lines were, never skips them in silence', async () => {
  const id = `${h.redis.namespace()}-download-gone`;
  await createJob(redis, { id, owner: 'alice', title: 'trimmed download' });
  await setJobStatus(redis, id, 'running');
  await appendLines(
    redis,
    id,
    Array.from({ length: 130 }, (_, i) => ({ stream: 'stdout' as const, line: `line ${i + 1}` })),
  );
  await setJobStatus(redis, id, 'success');
  const download = await httpGet(h.gateway.url, `/api/jobs/${id}/output.txt`, token('alice'));
  const lines = download.text.split('\n');
  expect(lines[0]).toBe(`[jobstream: lines 1–30 of job ${id} are no longer kept]`);
  expect(lines.slice(1, -1)).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i + 31}`));
});

it('output.txt?view=raw is shown in the browser, not saved, and can never run as a page', async () => {
  const id = `${h.redis.namespace()}-raw`;
  await createJob(redis, { id, owner: 'alice', title: 'raw' });
  await appendLines(redis, id, [{ stream: 'stdout', line: '<script>alert(1)</script>' }]);
  const raw = await httpGet(h.gateway.url, `/api/jobs/${id}/output.txt?view=raw`, token('alice'));
  expect(raw.headers.get('content-disposition')).toBe(`inline; filename="${id}.txt"`);
  expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
  expect(raw.headers.get('x-content-type-options')).toBe('nosniff');
  expect(raw.headers.get('content-security-policy')).toBe("default-src 'none'");
  expect(raw.text).toBe('<script>alert(1)</script>\n');
  const saved = await httpGet(h.gateway.url, `/api/jobs/${id}/output.txt`, token('alice'));
  expect(saved.headers.get('content-disposition')).toBe(`attachment; filename="${id}.txt"`);
  expect((await httpGet(h.gateway.url, `/api/jobs/${id}/output.txt?view=other`, token('alice'))).status).toBe(
    400,
  );
});

it('output?before=&limit= pages backwards, oldest first; since with before is a bad request', async () => {
  const id = `${h.redis.namespace()}-back`;
  await createJob(redis, { id, owner: 'alice', title: 'back' });
  await appendLines(
    redis,
    id,
    Array.from({ length: 150 }, (_, i) => ({ stream: 'stdout' as const, line: `line ${i + 1}` })),
  );
  expect(seqs(await page(id, 'before=141&limit=5'))).toEqual([136, 137, 138, 139, 140]);
  expect(seqs(await page(id, 'before=151&limit=3'))).toEqual([148, 149, 150]);
  expect(seqs(await page(id, 'before=56&limit=10'))).toEqual([51, 52, 53, 54, 55]); // 1–50 were trimmed
  expect(seqs(await page(id, 'before=40'))).toEqual([]);
  const last = await page(id, 'before=1000&limit=2');
  expect(last).toMatchObject({ lastSeq: 150, lines: [{ seq: 149 }, { seq: 150 }] });
  for (const query of ['since=1&before=5', 'before=0', 'before=-3', 'before=x']) {
    expect(await httpGet(h.gateway.url, `/api/jobs/${id}/output?${query}`, token('alice'))).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request' } },
    });
  }
});
