/**
 * Runners that vanish (docs/runners.md "Liveness and cancel"): a job whose runner was killed is finished as failed /
 * "runner lost" by exactly one of several gateway processes, exactly once, and its watchers see
 * it end; a cancel that a runner ignores ends the job as cancelled after the grace; a runner that
 * honours it ends the job itself. Real runner processes, real Redis, two gateways.
 */
import { spawnJobrun } from '../../scripts/lib/jobrun-process.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { eventsChannel, JOBS_ACTIVE, JOBS_INDEX } from '../../shared/keys.js';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { getJob, requestCancel, setJobStatus } from '../../shared/redis/functions.js';
import { collectMessages } from '../../shared/testing/pubsub.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { pruneIndex } from '../src/http/job-list.js';
import { eventually, metric, startHarness, token, TestClient, type Harness } from './harness.js';

const RUNNER_TIMEOUT_S = 2;
let server: PrivateRedis;
let redis: Redis;
let gateways: Harness[];
beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  // A cancel grace a busy CI machine's jobrun can answer well within (the polite-runner test
  // races it: a runner that honours a cancel must win against the reaper).
  const reaping = { runnerTimeoutS: RUNNER_TIMEOUT_S, cancelGraceS: 5, reaperIntervalMs: 250 };
  gateways = [await startHarness(reaping, server), await startHarness(reaping, server)];
});
afterAll(async () => {
  for (const g of gateways) await g.stop();
  await server.stop();
});

/** A real runner: `jobrun` around a command that never ends, in its own process group. */
function startRunner(id: string): { pid: number; exited: Promise<number | null> } {
  const child = spawnJobrun(id, ['sleep', '120'], {
    // Heartbeats well inside the 2 s runner timeout: at jobrun's default (5 s) the reaper could
    // end a job whose runner was honouring a cancel on a slow machine (CI: exit 1, not 130).
    env: { REDIS_URL: server.url, JOBRUN_HEARTBEAT_MS: '300' },
    stdio: 'ignore',
    detached: true,
  });
  return { pid: child.pid!, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function watch(id: string): Promise<TestClient> {
  const client = await TestClient.connect(gateways[0]!.gateway.url, { token: token('alice') });
  client.send({ type: 'subscribe', jobId: id });
  await client.waitFor((f) => f.type === 'status');
  return client;
}

const leaseHolders = async (): Promise<number> => {
  let holders = 0;
  for (const g of gateways) if (g.gateway.reaper.isLeaseHolder) holders++;
  return holders;
};

describe('the reaper', () => {
  it('is run by exactly one gateway process (a lease), shown in /metrics', async () => {
    await eventually(async () => (await leaseHolders()) === 1, 5000, 'one lease holder');
    const shown = await Promise.all(
      gateways.map(async (g) => {
        const text = await (await fetch(`${g.gateway.url}/metrics`)).text();
        return /jobstream_reaper_lease_held\{holder="[^"]+"\} 1/.test(text);
      }),
    );
    expect(shown.filter(Boolean)).toHaveLength(1);
  });

  it('fails the job of a kill -9ed runner as "runner lost", once, and its watcher sees status then done', async () => {
    const id = `${server.namespace()}-killed`;
    const runner = startRunner(id);
    await eventually(async () => (await getJob(redis, id))?.status === 'running', 15_000, 'runner started');
    const watcher = await watch(id);
    const events = await collectMessages(server, eventsChannel(id));

    process.kill(-runner.pid, 'SIGKILL'); // the runner and its command, no chance to say goodbye
    await runner.exited;
    const killedAt = Date.now();
    const done = await watcher.waitFor((f) => f.type === 'done', (RUNNER_TIMEOUT_S + 30) * 1000);
    const reapedAfterMs = Date.now() - killedAt;
    console.log(
      `runner killed → job failed "runner lost": ${reapedAfterMs} ms (timeout ${RUNNER_TIMEOUT_S} s)`,
    );
    expect(done).toMatchObject({ type: 'done', jobId: id, status: 'failed' });
    const statuses = watcher.framesFor(id).filter((f) => f.type === 'status');
    expect(statuses.at(-1)).toMatchObject({ job: { status: 'failed', errorMessage: 'runner lost' } });
    expect(await getJob(redis, id)).toMatchObject({ status: 'failed', errorMessage: 'runner lost' });

    // Finished exactly once: the next status frame on the channel is this marker, not a second reap.
    await setJobStatus(redis, id, 'failed', { exitCode: 137 });
    const frames = (await events.next(2)).map(
      (f) => JSON.parse(f) as { job: { status: string; exitCode?: number } },
    );
    expect(frames.map((f) => [f.job.status, f.job.exitCode])).toEqual([
      ['failed', undefined],
      ['failed', 137],
    ]);
    await events.close();
    await eventually(async () => (await redis.zscore(JOBS_ACTIVE, id)) === null, 5000, 'left jobs:active');
    const reaped = await Promise.all(
      gateways.map((g) => metric(g.gateway.url, 'jobstream_reaper_finished_total{status="failed"}')),
    );
    expect(reaped.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    watcher.close();
  }, 60_000);

  it('leaves a job whose runner heartbeats alone, and cancels one that ignores a cancel past the grace', async () => {
    const id = `${server.namespace()}-stubborn`;
    // A runner that heartbeats (so it is alive) but never acts on a cancel.
    const publisher = await JobPublisher.create(
      redis,
      { id, owner: 'alice', title: 'stubborn' },
      { heartbeatMs: 300 },
    );
    await publisher.start();
    const watcher = await watch(id);
    await new Promise((resolve) => setTimeout(resolve, (RUNNER_TIMEOUT_S + 1) * 1000)); // outlive the timeout
    expect((await getJob(redis, id))?.status).toBe('running');
    await requestCancel(redis, id, 'bob');
    const done = await watcher.waitFor((f) => f.type === 'done', 15_000);
    expect(done).toMatchObject({ status: 'cancelled' });
    expect(await getJob(redis, id)).toMatchObject({ status: 'cancelled', cancelRequestedBy: 'bob' });
    await publisher.close();
    watcher.close();
  }, 30_000);

  it('a runner that honours a cancel ends the job itself (jobrun stops its command)', async () => {
    const id = `${server.namespace()}-polite`;
    const runner = startRunner(id);
    await eventually(async () => (await getJob(redis, id))?.status === 'running', 15_000, 'runner started');
    await requestCancel(redis, id, 'bob');
    expect(await runner.exited).toBe(130);
    const job = await getJob(redis, id);
    expect(job?.status).toBe('cancelled');
    expect(job?.errorMessage).toMatch(/cancelled on request/);
  }, 30_000);

  it('reaps a job whose runner never added it to jobs:active: the gateways add it from the feed', async () => {
    const id = `${server.namespace()}-unlisted`;
    // What an older runner does: create the job and index it for the lists, not for the reaper.
    const createdAt = Number(await redis.fcall('jobstream_create', 1, `job:{${id}}`, 'alice', 'unlisted'));
    await redis.zadd(JOBS_INDEX, createdAt, id);
    await eventually(
      async () => (await redis.zscore(JOBS_ACTIVE, id)) === String(createdAt),
      5000,
      'added from the feed',
    );
    await eventually(
      async () => (await getJob(redis, id))?.status === 'failed',
      (RUNNER_TIMEOUT_S + 10) * 1000,
      'reaped',
    );
    expect((await getJob(redis, id))?.errorMessage).toBe('runner lost');
  }, 30_000);

  it('hands over at once when the lease holder stops', async () => {
    const holder = gateways.find((g) => g.gateway.reaper.isLeaseHolder)!;
    const other = gateways.find((g) => g !== holder)!;
    await holder.gateway.reaper.stop();
    await eventually(() => other.gateway.reaper.isLeaseHolder, 5000, 'the other process took the lease');
  });
});

describe('the job index', () => {
  it('keeps an old entry while its job lives, and drops it once the job has expired', async () => {
    const id = `${server.namespace()}-long`;
    await JobPublisher.create(redis, { id, owner: 'alice', title: 'runs for weeks' }).then((p) => p.close());
    const longAgo = Date.now() - 30 * 24 * 3600 * 1000;
    await redis.zadd(JOBS_INDEX, longAgo, id);
    await pruneIndex(redis, 7 * 24 * 3600);
    expect(await redis.zscore(JOBS_INDEX, id)).toBe(String(longAgo));
    await redis.del(`job:{${id}}`);
    await pruneIndex(redis, 7 * 24 * 3600);
    expect(await redis.zscore(JOBS_INDEX, id)).toBeNull();
  });
});
