/**
 * `GET /api/jobs/:id/annotations` and the job's `annotationCounts` (docs/protocol.md "HTTP API"):
 * the job's `::error::`/`::warning::`/`::notice::` lines kept by the library as they are stored,
 * so the first error is found from the job, not from what a browser holds. Before: the dashboard
 * searched its own 10,000 lines and named the wrong line.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { httpGet, range, startHarness, token, type Harness } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness({ library: { maxLines: 500 } });
  redis = h.redis.client();
});
afterAll(() => h.stop());

const lines = (...texts: string[]) => texts.map((line) => ({ stream: 'stdout' as const, line }));

it('keeps every annotation with its line, file and seq, even far behind a trimmed head', async () => {
  const id = `${h.redis.namespace()}-annotated`;
  await createJob(redis, { id, owner: 'alice', title: 'annotated' });
  await setJobStatus(redis, id, 'running');
  await appendLines(redis, id, lines('compiling', '::warning::Node 18 is deprecated'));
  for (let n = 0; n < 3; n++) await appendLines(redis, id, lines(...range(1, 400).map((i) => `noise ${i}`)));
  await appendLines(
    redis,
    id,
    lines(
      '::error file=src/app.ts,line=12,col=3::Expected 1 to be 2',
      'not ::error:: at the start',
      '::notice::done',
      '::error::second',
    ),
  );
  await setJobStatus(redis, id, 'failed');

  const answer = await httpGet(h.gateway.url, `/api/jobs/${id}/annotations`, token('alice'));
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({
    annotations: [
      { seq: 2, level: 'warning', message: 'Node 18 is deprecated' },
      { seq: 1203, level: 'error', message: 'Expected 1 to be 2', file: 'src/app.ts', line: 12 },
      { seq: 1205, level: 'notice', message: 'done' },
      { seq: 1206, level: 'error', message: 'second' },
    ],
    firstErrorSeq: 1203,
    total: 4,
  });
  const job = await httpGet(h.gateway.url, `/api/jobs/${id}`, token('alice'));
  expect((job.body as { annotationCounts: unknown }).annotationCounts).toEqual({
    error: 2,
    warning: 1,
    notice: 1,
  });
  expect((await httpGet(h.gateway.url, `/api/jobs/${id}/annotations`, token('bob'))).status).toBe(404);
});

it('keeps the first 1,000 and counts them all; a job without any has no counts', async () => {
  const id = `${h.redis.namespace()}-many`;
  await createJob(redis, { id, owner: 'alice', title: 'many' });
  await setJobStatus(redis, id, 'running');
  await appendLines(redis, id, lines(...range(1, 1200).map((i) => `::warning::w${i}`)));
  const answer = (await httpGet(h.gateway.url, `/api/jobs/${id}/annotations`, token('alice'))).body as {
    annotations: unknown[];
    total: number;
    firstErrorSeq: number | null;
  };
  expect([answer.annotations.length, answer.total, answer.firstErrorSeq]).toEqual([1000, 1200, null]);
  const plain = `${h.redis.namespace()}-plain`;
  await createJob(redis, { id: plain, owner: 'alice', title: 'plain' });
  expect((await httpGet(h.gateway.url, `/api/jobs/${plain}`, token('alice'))).body).not.toHaveProperty(
    'annotationCounts',
  );
});
