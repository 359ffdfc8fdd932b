/**
 * Work shared through the per-job claim (docs/architecture.md "Archive"): a gateway that dies
 * mid-upload stops renewing its claim; another takes the job over once the claim lapses and
 * archives it whole, and the first one, should it wake up, records nothing — so nothing is
 * archived twice or missed. The "dead" gateway is an archiver whose upload never returns (as a
 * process stopped by `kill -STOP` or a partition looks to Redis).
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../../shared/redis/library.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { ArchiveMetrics } from '../src/archive/archive-metrics.js';
import { Archiver } from '../src/archive/archiver.js';
import { archiveClaimKey, JOBS_UNARCHIVED, parseArchiveIndex } from '../src/archive/chunks.js';
import { FileStore } from '../src/archive/file-store.js';
import { createLogger } from '../src/ops/logger.js';
import { eventually } from './harness.js';
import { writeJob } from './archive-harness.js';

let server: PrivateRedis;
let redis: Redis;
let dir: string;
beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  await loadLibrary(redis, {
    ...DEFAULT_LIBRARY_CONFIG,
    maxLines: 300,
    archive: { hardMaxLines: 3000, hotRetentionS: 3600 },
  });
  dir = mkdtempSync(join(tmpdir(), 'jobstream-archive-claim-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A store whose uploads hang until `wake()`: the gateway that holds the claim has stopped. */
class StalledStore extends FileStore {
  private stalled: (() => void)[] = [];
  uploadsStarted = 0;
  override async put(key: string, body: Buffer): Promise<void> {
    this.uploadsStarted++;
    await new Promise<void>((resolve) => this.stalled.push(resolve));
    await super.put(key, body);
  }
  wake(): void {
    for (const resume of this.stalled.splice(0)) resume();
  }
}

const archiverOn = (store: FileStore, metrics: ArchiveMetrics, claimMs: number) =>
  new Archiver(
    redis,
    store,
    { chunkLines: 100, delayS: 0, intervalMs: 60_000, retentionS: 3600, claimMs },
    metrics,
    createLogger('silent'),
  );

it('a gateway that dies mid-upload is replaced once its claim lapses; nothing is archived twice or missed', async () => {
  const id = `${server.namespace()}-claimed`;
  await writeJob(redis, id, 350);
  await redis.zadd(JOBS_UNARCHIVED, Date.now(), id);
  const stalledStore = new StalledStore(join(dir, 'store'));
  const deadMetrics = new ArchiveMetrics(new Registry());
  const dead = archiverOn(stalledStore, deadMetrics, 500);
  const deadRun = dead.archiveJob(id);
  await eventually(() => stalledStore.uploadsStarted === 1, 5000, 'the first upload');
  expect(await redis.get(archiveClaimKey(id))).toBe(dead.holderId);

  const liveMetrics = new ArchiveMetrics(new Registry());
  const live = archiverOn(new FileStore(join(dir, 'store')), liveMetrics, 10_000);
  await live.archiveJob(id); // claimed by the other: left alone
  expect(await redis.hget(`job:{${id}}`, 'archivedSeq')).toBeNull();

  await eventually(async () => (await redis.get(archiveClaimKey(id))) === null, 5000, 'the claim to lapse');
  await live.archiveJob(id);
  expect(await redis.hget(`job:{${id}}`, 'archivedSeq')).toBe('350');
  expect(await redis.zscore(JOBS_UNARCHIVED, id)).toBeNull();

  stalledStore.wake(); // the dead gateway comes back and finishes its upload: it records nothing
  await deadRun;
  const records = parseArchiveIndex(await redis.hgetall(`job:{${id}}:archive`));
  expect(records.map((r) => [r.kind, r.firstSeq, r.lastSeq])).toEqual([
    ['chunk', 1, 100],
    ['chunk', 101, 200],
    ['chunk', 201, 300],
    ['chunk', 301, 350],
  ]);
  expect(await redis.hget(`job:{${id}}`, 'archivedSeq')).toBe('350');
  expect(readdirSync(join(dir, 'store', 'jobs', id, 'lines')).sort()).toEqual([
    '1-100.ndjson.gz',
    '101-200.ndjson.gz',
    '201-300.ndjson.gz',
    '301-350.ndjson.gz',
  ]);
  expect((await deadMetrics.chunksWritten.get()).values[0]?.value ?? 0).toBe(0);
  expect((await liveMetrics.chunksWritten.get()).values[0]?.value).toBe(4);
}, 20_000);
