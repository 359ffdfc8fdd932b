/**
 * docs/runners.md promises that its redis-cli block makes a job indistinguishable from one made
 * by JobPublisher. This runs the block from the document itself and compares the two jobs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { jobKey, JOBS_ACTIVE, JOBS_INDEX, outputKey, ownerIndexKey } from '../keys.js';
import { JobPublisher } from '../runner/publisher.js';
import { getJob } from '../redis/functions.js';
import { loadLibrary, DEFAULT_LIBRARY_CONFIG } from '../redis/library.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  await loadLibrary(redis, DEFAULT_LIBRARY_CONFIG);
});
afterAll(() => server.stop());

const guide = readFileSync(new URL('../../docs/runners.md', import.meta.url), 'utf8');
const block = /```sh\n([\s\S]*?)```/.exec(guide)?.[1];

/** The parts of a job that do not depend on when or under which id it ran. */
async function shape(id: string) {
  const job = await getJob(redis, id);
  const { id: _id, createdAt, startedAt, finishedAt, heartbeatAt, ...rest } = job!;
  const lines = (await redis.lrange(outputKey(id), 0, -1)).map((e) => {
    const { ts, ...line } = JSON.parse(e) as { ts: number };
    return { ...line, tsIsNumber: typeof ts === 'number', keys: Object.keys(JSON.parse(e) as object) };
  });
  return {
    job: rest,
    fields: Object.keys(await redis.hgetall(jobKey(id))).sort(),
    times: [createdAt, startedAt, finishedAt, heartbeatAt].map((t) => typeof t),
    ordered: createdAt <= startedAt! && startedAt! <= finishedAt!,
    lines,
    indexed:
      (await redis.zscore(JOBS_INDEX, id)) === String(createdAt) &&
      (await redis.zscore(ownerIndexKey('alice'), id)) === String(createdAt) &&
      (await redis.zscore(JOBS_ACTIVE, id)) === String(createdAt),
    ttl: (await redis.ttl(outputKey(id))) > 0,
  };
}

it('the redis-cli lifecycle in docs/runners.md makes the same job as JobPublisher', async () => {
  expect(block).toBeDefined();
  execFileSync('bash', ['-euo', 'pipefail', '-c', block!], {
    env: { ...process.env, J: 'guide-cli', REDIS_PORT: String(server.port) },
  });

  const publisher = await JobPublisher.create(redis, { id: 'guide-ts', owner: 'alice', title: 'Build web' });
  await publisher.start();
  publisher.stdout('Cloning into repo…');
  publisher.stderr('warning: shallow clone');
  await publisher.flush();
  publisher.stdout('Compiling 42 modules');
  await publisher.update({ branch: 'feat/fast-build', linesAdded: 12, linesRemoved: 3 });
  await publisher.finish(3);
  await publisher.close();

  const fromGuide = await shape('guide-cli');
  expect(fromGuide.job).toMatchObject({ status: 'failed', exitCode: 3, lastSeq: 3 });
  expect(fromGuide).toEqual(await shape('guide-ts'));
});
