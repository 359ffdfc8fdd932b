/**
 * The archive when things go wrong (docs/operations.md "Failure modes"): an archive that cannot
 * be written (Redis keeps every line, /readyz says degraded, and it catches up once writable), a
 * list that passed JOBSTREAM_HARD_MAX_LINES meanwhile (the hole is a `gap`, counted), a chunk
 * that fails its checksum or a store that cannot be read (`unavailable`, never a gap).
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { OutputPage } from '../../shared/http-api.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { JOBS_UNARCHIVED } from '../src/archive/chunks.js';
import { eventually, httpGet, metric, range } from './harness.js';
import {
  archivedWhole,
  MAX_LINES,
  readOverHttp,
  readOverWebSocket,
  startArchiveStack,
  writeJob,
  type ArchiveStack,
} from './archive-harness.js';

const HARD_MAX_LINES = 400;
let dir: string;
let store: string;
let s: ArchiveStack;
let redis: RedisConnection;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jobstream-archive-faults-'));
  store = join(dir, 'store');
  s = await startArchiveStack({ url: `file://${store}`, hardMaxLines: HARD_MAX_LINES });
  redis = s.client();
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const readyz = async () =>
  (await fetch(`${s.url}/readyz`)).json() as Promise<{ status: string; reason?: string }>;
/** A file where the archive's folder should be: every write fails (even as root, unlike chmod). */
const breakArchive = () => {
  rmSync(store, { recursive: true, force: true });
  writeFileSync(store, 'not a folder');
};
const mendArchive = () => rmSync(store, { force: true });

it('an unwritable archive loses nothing: Redis keeps the lines, /readyz says degraded, and it catches up once writable', async () => {
  breakArchive();
  const id = `${s.namespace()}-down`;
  const total = MAX_LINES + 50; // past the soft cap, within the hard one
  await writeJob(s.client(), id, total);
  await eventually(async () => (await readyz()).status === 'degraded', 10_000, 'degraded');
  expect((await readyz()).reason).toMatch(/archive file:\/\/.* failing/);
  expect(await metric(s.url, 'jobstream_archive_failures_total{operation="write"}')).toBeGreaterThan(0);
  expect(await redis.llen(`job:{${id}}:output`)).toBe(total); // nothing trimmed that is not archived
  expect(await redis.zscore(JOBS_UNARCHIVED, id)).not.toBeNull();
  expect(await readOverHttp(s.url, s.token('alice'), id)).toEqual(range(1, total).map((n) => `line ${n}`));

  mendArchive();
  await archivedWhole(redis, id);
  expect((await readyz()).status).toBe('ready');
  await redis.del(`job:{${id}}:output`);
  expect((await readOverWebSocket(s.url, s.token('alice'), id)).seqs).toEqual(range(1, total));
}, 40_000);

it('past JOBSTREAM_HARD_MAX_LINES with the archive down, the oldest lines go for good: a counted gap, never unavailable', async () => {
  breakArchive();
  const id = `${s.namespace()}-hard`;
  const total = 1000;
  const before = await metric(s.url, 'jobstream_archive_lines_trimmed_unarchived_total');
  await writeJob(s.client(), id, total);
  expect(await redis.llen(`job:{${id}}:output`)).toBe(HARD_MAX_LINES);
  const lost = total - HARD_MAX_LINES;
  expect(await redis.hgetall(`job:{${id}}:archive`)).toEqual({ '1': `gap ${lost}` });
  mendArchive();
  await archivedWhole(redis, id);
  expect(await metric(s.url, 'jobstream_archive_lines_trimmed_unarchived_total')).toBe(before + lost);

  const ws = await readOverWebSocket(s.url, s.token('alice'), id);
  expect(ws.gaps).toEqual([[1, lost]]);
  expect(ws.frames.find((f) => f.type === 'gap')).toMatchObject({ reason: 'trimmed' });
  expect(ws.seqs).toEqual(range(lost + 1, total));
  const page = await httpGet(s.url, `/api/jobs/${id}/output?since=0&limit=10`, s.token('alice'));
  expect(page.body).toMatchObject({ gap: { fromSeq: 1, toSeq: lost }, next: lost + 10 });
  expect((page.body as OutputPage).lines[0]).toMatchObject({ seq: lost + 1 });
}, 40_000);

it('a chunk that fails its checksum is unavailable (WebSocket error with the job id, HTTP 503), never a gap', async () => {
  const id = `${s.namespace()}-corrupt`;
  await writeJob(s.client(), id, 350); // within the hard cap: nothing lost before the archive
  await archivedWhole(redis, id);
  await redis.del(`job:{${id}}:output`);
  const corruptBefore = await metric(s.url, 'jobstream_archive_corrupt_chunks_total');
  writeFileSync(join(store, 'jobs', id, 'lines', '101-200.ndjson.gz'), gzipSync('{"seq":101}\n'));

  const ws = await readOverWebSocket(s.url, s.token('alice'), id);
  expect(ws.seqs).toEqual(range(1, 100));
  expect(ws.gaps).toEqual([]);
  expect(ws.frames.at(-1)).toMatchObject({ type: 'error', code: 'unavailable', jobId: id });
  const page = await httpGet(s.url, `/api/jobs/${id}/output?since=150`, s.token('alice'));
  expect(page.status).toBe(503);
  expect(page.body).toMatchObject({
    error: { code: 'unavailable', message: expect.stringMatching(/SHA-256/) },
  });
  expect(page.headers.get('retry-after')).toBe('5');
  expect((await httpGet(s.url, `/api/jobs/${id}/output.txt`, s.token('alice'))).status).toBe(503);
  expect((await httpGet(s.url, `/api/jobs/${id}/search?q=x`, s.token('alice'))).status).toBe(503);
  expect(await metric(s.url, 'jobstream_archive_corrupt_chunks_total')).toBeGreaterThan(corruptBefore);
  // The chunks on either side are still read.
  const after = await httpGet(s.url, `/api/jobs/${id}/output?since=200&limit=5`, s.token('alice'));
  expect((after.body as OutputPage).lines.map((l) => l.seq)).toEqual(range(201, 205));
}, 30_000);

it('a store that cannot be read right now is unavailable, and reads again once it is back', async () => {
  const id = `${s.namespace()}-away`;
  await writeJob(s.client(), id, 250);
  await archivedWhole(redis, id);
  await redis.del(`job:{${id}}:output`);
  const jobDir = join(store, 'jobs', id);
  renameSync(jobDir, `${jobDir}.away`);
  const ws = await readOverWebSocket(s.url, s.token('alice'), id);
  expect(ws.seqs).toEqual([]);
  expect(ws.frames.at(-1)).toMatchObject({ type: 'error', code: 'unavailable', jobId: id });
  expect((await httpGet(s.url, `/api/jobs/${id}/output`, s.token('alice'))).status).toBe(503);
  renameSync(`${jobDir}.away`, jobDir);
  expect(readdirSync(join(jobDir, 'lines')).sort()).toEqual([
    '1-100.ndjson.gz',
    '101-200.ndjson.gz',
    '201-250.ndjson.gz',
  ]);
  expect((await readOverWebSocket(s.url, s.token('alice'), id)).seqs).toEqual(range(1, 250));
}, 30_000);
