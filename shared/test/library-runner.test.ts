/**
 * The function library's runner contract: jobstream_create, _append and _status,
 * against a real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  eventsChannel,
  jobKey,
  JOBS_ACTIVE,
  JOBS_FEED,
  JOBS_INDEX,
  outputKey,
  ownerIndexKey,
} from '../keys.js';
import { MAX_FIELD_BYTES, MAX_JOB_HASH_BYTES } from '../job.js';
import type { OutputLine } from '../protocol.js';
import { appendLines, createJob, getJob, setJobStatus } from '../redis/functions.js';
import type { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { MAX_LINES, newTestJob, RETENTION_S, startLibraryServer } from './library-server.js';
import { collectMessages } from '../testing/pubsub.js';
import { storedLines } from '../testing/output.js';
import { expectCode } from '../testing/function-errors.js';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  ({ server, redis } = await startLibraryServer());
});
afterAll(() => server.stop());

const newJob = (owner?: string): Promise<string> => newTestJob(server, redis, owner);
const outputOf = (id: string): Promise<OutputLine[]> => storedLines(redis, id);

describe('jobstream_create', () => {
  it('creates a queued job, indexes it and announces it on the feed', async () => {
    const feed = await collectMessages(server, JOBS_FEED);
    const id = `${server.namespace()}-create`;
    const createdAt = await createJob(redis, {
      id,
      owner: 'bob',
      title: 'Build',
      fields: { branch: 'main' },
    });
    const [frame] = await feed.next(1);
    await feed.close();
    expect(JSON.parse(frame!)).toEqual({
      type: 'job',
      job: { id, owner: 'bob', title: 'Build', status: 'queued', createdAt, branch: 'main', lastSeq: 0 },
    });
    expect(await redis.zscore(JOBS_INDEX, id)).toBe(String(createdAt));
    expect(await redis.zscore(ownerIndexKey('bob'), id)).toBe(String(createdAt));
    expect(await redis.zscore(JOBS_ACTIVE, id)).toBe(String(createdAt));
    const redisNow = Number((await redis.time())[0]) * 1000;
    expect(Math.abs(createdAt - redisNow)).toBeLessThan(2000);
  });

  it('refuses an existing job, a bad id, protected and unknown fields', async () => {
    const id = await newJob();
    await expectCode(createJob(redis, { id, owner: 'alice', title: 'again' }), 'JOB_EXISTS');
    await expectCode(redis.fcall('jobstream_create', 1, 'job:{bad id}', 'alice', 't'), 'BAD_JOB_ID');
    await expectCode(
      redis.fcall('jobstream_create', 1, `job:{${'x'.repeat(129)}}`, 'alice', 't'),
      'BAD_JOB_ID',
    );
    await expectCode(
      redis.fcall('jobstream_create', 1, 'job:{ok-1}', 'alice', 't', 'seq', '5'),
      'PROTECTED_FIELD',
    );
    await expectCode(
      redis.fcall('jobstream_create', 1, 'job:{ok-2}', 'alice', 't', 'color', 'red'),
      'BAD_FIELD',
    );
    await expectCode(
      redis.fcall('jobstream_create', 1, 'job:{ok-3}', 'alice', 't', 'exitCode', 'x'),
      'BAD_FIELD',
    );
    await expectCode(redis.fcall('jobstream_create', 1, 'job:{ok-4}', ''), 'BAD_ARGUMENTS');
    expect(await redis.exists(jobKey('ok-1'), jobKey('ok-2'), jobKey('ok-3'))).toBe(0);
  });
});

describe('jobstream_append', () => {
  it('numbers lines from 1, stores the entry shape with Redis time and publishes the same entries', async () => {
    const id = await newJob();
    const events = await collectMessages(server, eventsChannel(id));
    const last = await appendLines(redis, id, [
      { stream: 'stdout', line: 'Cloning…' },
      { stream: 'stderr', line: 'warning: "quoted" \\ back\tslash' },
    ]);
    expect(last).toBe(2);
    const [frame] = await events.next(1);
    await events.close();
    const stored = await outputOf(id);
    expect(stored.map((l) => [l.seq, l.stream, l.line])).toEqual([
      [1, 'stdout', 'Cloning…'],
      [2, 'stderr', 'warning: "quoted" \\ back\tslash'],
    ]);
    expect(JSON.parse(frame!)).toEqual({ type: 'output', jobId: id, lines: stored });
    expect(Object.keys(stored[0]!)).toEqual(['seq', 'ts', 'stream', 'line']);
    const redisNow = Number((await redis.time())[0]) * 1000;
    expect(Math.abs(stored[0]!.ts - redisNow)).toBeLessThan(2000);
    expect((await getJob(redis, id))?.lastSeq).toBe(2);
  });

  it('gives every seq exactly once to concurrent writers, list order equal to seq order', async () => {
    const id = await newJob();
    const events = await collectMessages(server, eventsChannel(id));
    const writers = Array.from({ length: 6 }, () => server.client());
    const perWriter = 40;
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 0; i < perWriter; i++) {
          await appendLines(writer, id, [
            { stream: 'stdout', line: `w${w} a${i}` },
            { stream: 'stdout', line: `w${w} b${i}` },
          ]);
        }
      }),
    );
    const total = writers.length * perWriter * 2;
    const frames = await events.next(writers.length * perWriter);
    await events.close();
    writers.forEach((w) => w.disconnect());
    // MAX_LINES trims the list; the published frames carry every line.
    const published = frames.flatMap((f) => (JSON.parse(f) as { lines: OutputLine[] }).lines);
    expect(published.map((l) => l.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const stored = await outputOf(id);
    expect(stored).toEqual(published.slice(-MAX_LINES));
    // each writer's pair stays adjacent: one call is one atomic batch
    for (let i = 0; i < published.length; i += 2) {
      expect(published[i]!.line.replace(' a', ' b')).toBe(published[i + 1]!.line);
    }
  });

  it('trims to JOBSTREAM_MAX_LINES: the first retained seq is seq - LLEN + 1', async () => {
    const id = await newJob();
    const lines = Array.from({ length: MAX_LINES + 15 }, (_, i) => ({
      stream: 'stdout' as const,
      line: `l${i + 1}`,
    }));
    const last = await appendLines(redis, id, lines);
    const length = await redis.llen(outputKey(id));
    expect(length).toBe(MAX_LINES);
    expect((await outputOf(id))[0]!.seq).toBe(last - length + 1);
  });

  it('replaces invalid UTF-8 with U+FFFD as a browser decoder would', async () => {
    const id = await newJob();
    const raw = Buffer.from([
      0x61, 0xff, 0xe2, 0x82, 0x62, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x80, 0xc0, 0xaf,
    ]);
    await redis.fcall('jobstream_append', 2, jobKey(id), outputKey(id), 'stdout', raw);
    const [entry] = await outputOf(id);
    expect(entry!.line).toBe(new TextDecoder('utf-8').decode(raw));
    const rawEntry = await redis.lindexBuffer(outputKey(id), 0);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(rawEntry!)).not.toThrow();
  });

  it('cuts a line over 16 KiB on a character boundary and marks it', async () => {
    const id = await newJob();
    const line = 'é'.repeat(20_000); // 40,000 bytes of two-byte characters
    await appendLines(redis, id, [{ stream: 'stdout', line }]);
    const [entry] = await outputOf(id);
    const match = / \[truncated (\d+) bytes\]$/.exec(entry!.line);
    expect(match).not.toBeNull();
    const kept = entry!.line.slice(0, match!.index);
    expect(kept).toBe('é'.repeat(kept.length));
    expect(Buffer.byteLength(kept) + Number(match![1])).toBe(40_000);
    expect(Buffer.byteLength(entry!.line)).toBeLessThanOrEqual(16_384);
  });

  it('refuses unknown jobs, bad streams, odd arguments and appends after the end', async () => {
    await expectCode(appendLines(redis, 'nope', [{ stream: 'stdout', line: 'x' }]), 'NOT_FOUND');
    const id = await newJob();
    await expectCode(
      redis.fcall('jobstream_append', 2, jobKey(id), outputKey(id), 'stdlog', 'x'),
      'BAD_STREAM',
    );
    await expectCode(
      redis.fcall('jobstream_append', 2, jobKey(id), outputKey(id), 'stdout'),
      'BAD_ARGUMENTS',
    );
    await expectCode(
      redis.fcall('jobstream_append', 2, jobKey(id), outputKey('other'), 'stdout', 'x'),
      'BAD_JOB_ID',
    );
    await setJobStatus(redis, id, 'success');
    await expectCode(appendLines(redis, id, [{ stream: 'stdout', line: 'late' }]), 'JOB_FINISHED');
    expect(await redis.llen(outputKey(id))).toBe(0);
  });
});

describe('jobstream_status', () => {
  it('stamps startedAt and finishedAt, publishes status and job frames, expires both keys at the end', async () => {
    const id = await newJob('carol');
    await appendLines(redis, id, [{ stream: 'stdout', line: 'x' }]);
    const events = await collectMessages(server, eventsChannel(id));
    const feed = await collectMessages(server, JOBS_FEED);
    await setJobStatus(redis, id, 'running');
    const lastSeq = await setJobStatus(redis, id, 'failed', { exitCode: 2, errorMessage: 'tests failed' });
    expect(lastSeq).toBe(1);
    const statusFrames = (await events.next(2)).map(
      (f) => JSON.parse(f) as { type: string; job: Record<string, unknown> },
    );
    const jobFrames = (await feed.next(2)).map(
      (f) => JSON.parse(f) as { type: string; job: Record<string, unknown> },
    );
    await Promise.all([events.close(), feed.close()]);
    expect(statusFrames.map((f) => [f.type, f.job.status])).toEqual([
      ['status', 'running'],
      ['status', 'failed'],
    ]);
    expect(jobFrames.map((f) => f.job)).toEqual(statusFrames.map((f) => f.job));
    const job = await getJob(redis, id);
    expect(job).toMatchObject({ status: 'failed', exitCode: 2, errorMessage: 'tests failed', lastSeq: 1 });
    expect(job!.startedAt).toBeGreaterThanOrEqual(job!.createdAt);
    expect(job!.finishedAt).toBeGreaterThanOrEqual(job!.startedAt!);
    expect(statusFrames[1]!.job).toEqual(job);
    for (const key of [jobKey(id), outputKey(id)]) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(RETENTION_S - 10);
      expect(ttl).toBeLessThanOrEqual(RETENTION_S);
    }
  });

  it('allows exactly the legal transitions', async () => {
    const cases: [string[], string, boolean][] = [
      [[], 'running', true],
      [[], 'cancelled', true],
      [[], 'queued', true],
      [['running'], 'queued', false],
      [['running'], 'running', true],
      [['running'], 'success', true],
      [['success'], 'success', true],
      [['success'], 'failed', false],
      [['failed'], 'running', false],
      [['cancelled'], 'queued', false],
    ];
    for (const [path, to, legal] of cases) {
      const id = await newJob();
      for (const step of path) await setJobStatus(redis, id, step as 'running');
      const attempt = setJobStatus(redis, id, to as 'running');
      if (legal) await expect(attempt).resolves.toBe(0);
      else await expectCode(attempt, 'BAD_TRANSITION');
    }
  });

  it('a status to itself updates metadata but keeps the first startedAt', async () => {
    const id = await newJob();
    await setJobStatus(redis, id, 'running');
    const before = await getJob(redis, id);
    await setJobStatus(redis, id, 'running', { branch: 'feat/x', linesAdded: 10, linesRemoved: 3 });
    const after = await getJob(redis, id);
    expect(after).toMatchObject({
      branch: 'feat/x',
      linesAdded: 10,
      linesRemoved: 3,
      startedAt: before!.startedAt,
    });
  });

  it('refuses unknown jobs, unknown statuses and protected fields', async () => {
    await expectCode(setJobStatus(redis, 'missing-job', 'running'), 'NOT_FOUND');
    const id = await newJob();
    await expectCode(redis.fcall('jobstream_status', 2, jobKey(id), outputKey(id), 'paused'), 'BAD_STATUS');
    for (const field of [
      'id',
      'owner',
      'seq',
      'status',
      'createdAt',
      'startedAt',
      'finishedAt',
      'heartbeatAt',
      'cancelRequestedAt',
      'cancelRequestedBy',
    ]) {
      await expectCode(
        redis.fcall('jobstream_status', 2, jobKey(id), outputKey(id), 'running', field, '1'),
        'PROTECTED_FIELD',
      );
    }
    expect((await getJob(redis, id))?.status).toBe('queued');
  });

  it('caps each field at 4 KiB and the whole hash at 64 KiB (FIELD_TOO_LARGE), changing nothing', async () => {
    const big = 'x'.repeat(MAX_FIELD_BYTES + 1);
    await expectCode(
      createJob(redis, { id: `${server.namespace()}-big`, owner: 'alice', title: big }),
      'FIELD_TOO_LARGE',
    );
    await expectCode(
      redis.fcall('jobstream_create', 1, `job:{${server.namespace()}-big2}`, 'alice', 't', 'branch', big),
      'FIELD_TOO_LARGE',
    );
    expect(
      await redis.exists(jobKey(`${server.namespace()}-big`), jobKey(`${server.namespace()}-big2`)),
    ).toBe(0);
    const id = await newJob();
    // Invalid bytes count as the U+FFFD they become: 2,000 of them are 6,000 bytes stored.
    const invalid = Buffer.alloc(2000, 0xff);
    await expectCode(
      redis.fcall('jobstream_status', 2, jobKey(id), outputKey(id), 'running', 'title', invalid),
      'FIELD_TOO_LARGE',
    );
    const exact = 'y'.repeat(MAX_FIELD_BYTES);
    await setJobStatus(redis, id, 'running', { title: exact, branch: exact });
    // A field a writer put there without the library still counts toward the whole hash.
    await redis.hset(jobKey(id), 'junk', 'z'.repeat(MAX_JOB_HASH_BYTES));
    await expectCode(setJobStatus(redis, id, 'running', { mrUrl: 'https://x' }), 'FIELD_TOO_LARGE');
    const job = await getJob(redis, id);
    expect(job?.title).toBe(exact);
    expect(job?.mrUrl).toBeUndefined();
  });
});
