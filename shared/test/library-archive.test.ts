/**
 * The library's side of the archive (docs/architecture.md "Archive"): trimming that never drops
 * an unarchived line below JOBSTREAM_HARD_MAX_LINES (and records the hole past it), the claim
 * checked by jobstream_archived, contiguous records, and Redis letting go once the manifest is in.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { jobKey, outputKey } from '../keys.js';
import { appendLines, createJob, setJobStatus } from '../redis/functions.js';
import { DEFAULT_LIBRARY_CONFIG, loadedLibrary, loadLibrary } from '../redis/library.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { expectCode } from '../testing/function-errors.js';

const MAX_LINES = 10;
const HARD_MAX_LINES = 20;
const HOT_RETENTION_S = 60;
const RETENTION_S = 90 * 24 * 3600;
const SHA = 'a'.repeat(64);

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  await loadLibrary(redis, {
    ...DEFAULT_LIBRARY_CONFIG,
    maxLines: MAX_LINES,
    retentionS: RETENTION_S,
    archive: { hardMaxLines: HARD_MAX_LINES, hotRetentionS: HOT_RETENTION_S },
  });
});
afterAll(() => server.stop());

async function runningJob(): Promise<string> {
  const id = `${server.namespace()}-job`;
  await createJob(redis, { id, owner: 'alice', title: 'archived' });
  await setJobStatus(redis, id, 'running');
  return id;
}
const append = (id: string, count: number) =>
  appendLines(
    redis,
    id,
    Array.from({ length: count }, (_, i) => ({ stream: 'stdout' as const, line: `line ${i}` })),
  );
const archived = (id: string, ...args: (string | number)[]) =>
  redis.fcall('jobstream_archived', 2, jobKey(id), outputKey(id), ...args);
const claim = (id: string, holder: string) => redis.set(`job:{${id}}:archiving`, holder, 'PX', 60_000);
const seqsHeld = async (id: string): Promise<number[]> =>
  (await redis.lrange(outputKey(id), 0, -1)).map((e) => (JSON.parse(e) as { seq: number }).seq);

it('reports its archive limits', async () => {
  expect(await loadedLibrary(redis)).toMatchObject({
    maxLines: MAX_LINES,
    archive: { hardMaxLines: HARD_MAX_LINES, hotRetentionS: HOT_RETENTION_S },
  });
});

it('keeps unarchived lines past the soft cap, then trims at the hard cap and records the hole', async () => {
  const id = await runningJob();
  for (let i = 0; i < 15; i++) await append(id, 1);
  expect(await redis.llen(outputKey(id))).toBe(15); // before: trimmed to 10, lines 1–5 lost for good
  expect(await redis.hgetall(`job:{${id}}:archive`)).toEqual({});
  for (let i = 0; i < 10; i++) await append(id, 1);
  expect(await seqsHeld(id)).toEqual(Array.from({ length: 20 }, (_, i) => 6 + i));
  // One hole from archivedSeq + 1, grown in place as the list went on past the hard cap.
  expect(await redis.hgetall(`job:{${id}}:archive`)).toEqual({ '1': 'gap 5' });
});

it('trims archived lines down to the soft cap, and only those', async () => {
  const id = await runningJob();
  await append(id, 12);
  await claim(id, 'gw-1');
  expect(await archived(id, 'chunk', 'gw-1', 1, 8, 120, SHA)).toBe(8);
  await append(id, 1);
  // 13 held, 10 wanted, but only 1–8 are archived: 1–3 go, 4–8 may, none above 8.
  expect((await seqsHeld(id))[0]).toBe(4);
  await append(id, 5);
  expect((await seqsHeld(id))[0]).toBe(9); // 18 written, 8 archived: 9–18 stay
  expect(await redis.hgetall(`job:{${id}}:archive`)).toEqual({ '1': `8 120 ${SHA}` });
  expect(await redis.hget(jobKey(id), 'archivedSeq')).toBe('8');
  const read = (await redis.fcall('jobstream_read', 2, jobKey(id), outputKey(id), 1, 5)) as unknown[];
  expect(read[3]).toBe(8); // jobstream_read says how far the job is archived
});

it('records only for the claim holder, and only ranges that continue archivedSeq', async () => {
  const id = await runningJob();
  await append(id, 10);
  await expectCode(archived(id, 'chunk', 'gw-1', 1, 5, 10, SHA), 'NOT_CLAIMED');
  await claim(id, 'gw-2');
  await expectCode(archived(id, 'chunk', 'gw-1', 1, 5, 10, SHA), 'NOT_CLAIMED');
  await expectCode(archived(id, 'chunk', 'gw-2', 2, 5, 10, SHA), 'NOT_CONTIGUOUS');
  await expectCode(archived(id, 'chunk', 'gw-2', 1, 11, 10, SHA), 'NOT_CONTIGUOUS');
  await expectCode(archived(id, 'chunk', 'gw-2', 1, 5), 'BAD_ARGUMENTS');
  expect(await archived(id, 'chunk', 'gw-2', 1, 5, 10, SHA)).toBe(5);
  await expectCode(archived(id, 'chunk', 'gw-2', 1, 5, 10, SHA), 'NOT_CONTIGUOUS'); // never twice
  expect(await archived(id, 'gap', 'gw-2', 6, 7)).toBe(7);
  expect(await redis.hgetall(`job:{${id}}:archive`)).toEqual({ '1': `5 10 ${SHA}`, '6': 'gap 7' });
  await expectCode(archived(id, 'manifest', 'gw-2'), 'NOT_CONTIGUOUS'); // still running
});

it('a chunk recorded over a hole the append grew meanwhile keeps the rest of the hole', async () => {
  const id = await runningJob();
  await append(id, 20);
  await claim(id, 'gw-1');
  const firstTen = await redis.lrange(outputKey(id), 0, 9); // the archiver read 1–10…
  await append(id, 4); // …then the list passed the hard cap: 1–4 trimmed unarchived
  expect(await redis.hget(`job:{${id}}:archive`, '1')).toBe('gap 4');
  expect(firstTen).toHaveLength(10);
  expect(await archived(id, 'chunk', 'gw-1', 1, 3, 30, SHA)).toBe(3); // a chunk of what it holds
  expect(await redis.hgetall(`job:{${id}}:archive`)).toEqual({ '1': `3 30 ${SHA}`, '4': 'gap 4' });
});

it('lets the list go once the manifest of a finished, archived job is stored', async () => {
  const id = await runningJob();
  await append(id, 6);
  await setJobStatus(redis, id, 'success');
  // Finished but not archived: the list outlives an archive that is down, for 7 days at most.
  const unarchivedTtl = await redis.ttl(outputKey(id));
  expect(unarchivedTtl).toBeGreaterThan(6 * 24 * 3600);
  expect(unarchivedTtl).toBeLessThanOrEqual(7 * 24 * 3600);
  await claim(id, 'gw-1');
  await expectCode(archived(id, 'manifest', 'gw-1'), 'NOT_CONTIGUOUS'); // lines 1–6 not archived yet
  expect(await archived(id, 'chunk', 'gw-1', 1, 6, 60, SHA)).toBe(6);
  expect(await redis.ttl(`job:{${id}}:archive`)).toBeGreaterThan(RETENTION_S - 10);
  expect(await archived(id, 'manifest', 'gw-1')).toBe(6);
  expect(await redis.ttl(outputKey(id))).toBeLessThanOrEqual(HOT_RETENTION_S);
  expect(await redis.ttl(jobKey(id))).toBeGreaterThan(RETENTION_S - 10); // the job itself stays
});

it('archivedSeq is the library’s: no runner can raise it (and so trim lines the archive never got)', async () => {
  const id = await runningJob();
  await expectCode(
    redis.fcall('jobstream_status', 2, jobKey(id), outputKey(id), 'running', 'archivedSeq', '999'),
    'PROTECTED_FIELD',
  );
});
