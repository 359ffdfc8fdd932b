/**
 * The runner-liveness functions of the library against a real redis-server: heartbeat (Redis
 * time, answers a cancel), cancel (once, announced on three channels) and the reaper's atomic
 * re-check and finish.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { controlChannel, eventsChannel, jobKey, JOBS_FEED, outputKey } from '../keys.js';
import {
  appendLines,
  createJob,
  getJob,
  heartbeat,
  reapJob,
  requestCancel,
  setJobStatus,
} from '../redis/functions.js';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../redis/library.js';
import { expectCode } from '../testing/function-errors.js';
import { collectMessages } from '../testing/pubsub.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  await loadLibrary(redis, DEFAULT_LIBRARY_CONFIG);
});
afterAll(() => server.stop());

async function newJob(owner = 'alice'): Promise<string> {
  const id = `${server.namespace()}-job`;
  await createJob(redis, { id, owner, title: 'a job' });
  return id;
}

const redisMs = async (): Promise<number> => {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
};

describe('jobstream_heartbeat', () => {
  it('stamps heartbeatAt with Redis time and answers 0 until a cancel is asked for', async () => {
    const id = await newJob();
    const before = await redisMs();
    expect(await heartbeat(redis, id)).toBe(0);
    const job = await getJob(redis, id);
    expect(job!.heartbeatAt).toBeGreaterThanOrEqual(before);
    expect(job!.heartbeatAt).toBeLessThanOrEqual(await redisMs());
    const requestedAt = await requestCancel(redis, id, 'bob');
    expect(await heartbeat(redis, id)).toBe(requestedAt);
  });

  it('refuses an unknown job and a finished one', async () => {
    await expectCode(heartbeat(redis, 'no-such-job'), 'NOT_FOUND');
    const id = await newJob();
    await setJobStatus(redis, id, 'success');
    await expectCode(heartbeat(redis, id), 'JOB_FINISHED');
    await expectCode(redis.fcall('jobstream_heartbeat', 1, jobKey(id), 'extra'), 'BAD_ARGUMENTS');
  });
});

describe('jobstream_cancel', () => {
  it('stamps the request once, announces it on the events channel, the feed and the control channel', async () => {
    const id = await newJob();
    await setJobStatus(redis, id, 'running');
    const events = await collectMessages(server, eventsChannel(id));
    const feed = await collectMessages(server, JOBS_FEED);
    const control = await collectMessages(server, controlChannel(id));
    const requestedAt = await requestCancel(redis, id, 'bob');
    const [status] = await events.next(1);
    const [job] = await feed.next(1);
    const [cancel] = await control.next(1);
    expect(JSON.parse(cancel!)).toEqual({ type: 'cancel', jobId: id, requestedBy: 'bob', requestedAt });
    const stored = await getJob(redis, id);
    expect(stored).toMatchObject({
      status: 'running',
      cancelRequestedAt: requestedAt,
      cancelRequestedBy: 'bob',
    });
    expect(JSON.parse(status!)).toEqual({ type: 'status', jobId: id, job: stored });
    expect(JSON.parse(job!)).toEqual({ type: 'job', job: stored });
    // asking again changes nothing and publishes nothing: the first request's time comes back
    expect(await requestCancel(redis, id, 'carol')).toBe(requestedAt);
    await appendLines(redis, id, [{ stream: 'stdout', line: 'marker' }]);
    const [next] = await events.next(1);
    expect(JSON.parse(next!).type).toBe('output');
    expect((await getJob(redis, id))!.cancelRequestedBy).toBe('bob');
    await Promise.all([events.close(), feed.close(), control.close()]);
  });

  it('refuses a finished job and an unknown one', async () => {
    const id = await newJob();
    await setJobStatus(redis, id, 'failed');
    await expectCode(requestCancel(redis, id, 'bob'), 'JOB_FINISHED');
    await expectCode(requestCancel(redis, 'missing-cancel', 'bob'), 'NOT_FOUND');
  });
});

describe('jobstream_reap', () => {
  const limits = { runnerTimeoutMs: 60_000, cancelGraceMs: 30_000 };

  it('leaves a live job alone and fails a silent one as "runner lost", announced once', async () => {
    const id = await newJob();
    await setJobStatus(redis, id, 'running');
    await heartbeat(redis, id);
    expect(await reapJob(redis, id, limits)).toBe('alive');
    const events = await collectMessages(server, eventsChannel(id));
    // a timeout below zero makes any sign of life too old; two reapers race
    const [first, second] = await Promise.all([
      reapJob(redis, id, { ...limits, runnerTimeoutMs: -1 }),
      reapJob(redis, id, { ...limits, runnerTimeoutMs: -1 }),
    ]);
    expect([first, second].sort()).toEqual(['failed', 'terminal']);
    const [status] = await events.next(1);
    expect(JSON.parse(status!).job).toMatchObject({ status: 'failed', errorMessage: 'runner lost' });
    // nothing was published twice: the next frame is this marker, not a second reap
    await setJobStatus(redis, id, 'failed', { exitCode: 99 });
    const [marker] = await events.next(1);
    expect(JSON.parse(marker!).job).toMatchObject({ status: 'failed', exitCode: 99 });
    await events.close();
    expect(await redis.ttl(jobKey(id))).toBeGreaterThan(0);
  });

  it('a runner that finishes first wins: the reaper then finds the job terminal', async () => {
    const id = await newJob();
    await setJobStatus(redis, id, 'success');
    expect(await reapJob(redis, id, { ...limits, runnerTimeoutMs: -1 })).toBe('terminal');
    expect((await getJob(redis, id))!.status).toBe('success');
  });

  it('cancels a job whose cancel was not acted on within the grace', async () => {
    const id = await newJob();
    await setJobStatus(redis, id, 'running');
    await requestCancel(redis, id, 'bob');
    expect(await reapJob(redis, id, limits)).toBe('alive');
    expect(await reapJob(redis, id, { ...limits, cancelGraceMs: -1 })).toBe('cancelled');
    expect(await getJob(redis, id)).toMatchObject({ status: 'cancelled', cancelRequestedBy: 'bob' });
  });

  it('refuses an unknown job and bad arguments', async () => {
    await expectCode(reapJob(redis, 'missing-reap', limits), 'NOT_FOUND');
    const id = await newJob();
    await expectCode(redis.fcall('jobstream_reap', 2, jobKey(id), outputKey(id), 'soon'), 'BAD_ARGUMENTS');
  });
});
