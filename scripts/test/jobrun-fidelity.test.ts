/**
 * What the command wrote is what the job holds (docs/runners.md): real jobrun processes around
 * real commands, every line checked, through a fast command, a slow link, a paused Redis and a
 * full spool; --pty order; a live progress bar; and on a Redis Cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { eventsChannel } from '../../shared/keys.js';
import type { OutputLine, ProgressFrame, ServerFrame } from '../../shared/protocol.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { getJob, setJobStatus } from '../../shared/redis/functions.js';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../../shared/redis/library.js';
import { storedLines } from '../../shared/testing/output.js';
import { collectMessages } from '../../shared/testing/pubsub.js';
import { BlackHoleProxy } from '../../shared/testing/tcp-proxy.js';
import { jobrunOn } from '../lib/jobrun-process.js';
import { PrivateRedisCluster } from '../lib/private-redis-cluster.js';
import { PrivateRedis } from '../lib/private-redis.js';

let server: PrivateRedis;
let redis: Redis;
/** A Redis whose library keeps a million lines a job (the default keeps 100,000). */
let big: PrivateRedis;
let bigRedis: Redis;

beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  big = await PrivateRedis.start();
  bigRedis = big.client();
  await loadLibrary(bigRedis, { ...DEFAULT_LIBRARY_CONFIG, maxLines: 2_000_000 });
});
afterAll(async () => {
  await server.stop();
  await big.stop();
});

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Runs jobrun against the small server unless `env` names another Redis. */
const jobrun = jobrunOn(() => server.url);

const lines = (id: string): Promise<OutputLine[]> => storedLines(redis, id);

const id = (name: string): string => `${server.namespace()}-${name}`;

describe('what the command wrote is what the job holds', () => {
  /** Every line of `seq 1 count`, stored once, in order, at seqs 1…count. */
  async function expectSeq(job: string, count: number, from: Redis | RedisConnection = redis): Promise<void> {
    const stored = await storedLines(from, job);
    expect(stored.length).toBe(count);
    const wrong = stored.findIndex(
      (l, i) => l.seq !== i + 1 || l.line !== String(i + 1) || l.stream !== 'stdout',
    );
    expect(wrong).toBe(-1);
    expect(await getJob(from, job)).toMatchObject({ status: 'success', lastSeq: count });
  }

  it('a million lines as fast as seq writes them: every one, in order (before: 106,257 of 400,000)', async () => {
    const job = id('million');
    const startedAt = Date.now();
    const run = await jobrun(job, ['seq', '1', '1000000'], { env: { REDIS_URL: big.url } });
    const seconds = (Date.now() - startedAt) / 1000;
    console.log(`seq 1 1000000 through jobrun: ${seconds.toFixed(1)} s end to end (node start included)`);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).not.toContain('dropped');
    await expectSeq(job, 1_000_000, bigRedis);
  }, 120_000);

  it('a link with 25 ms each way to Redis: every line (before: 100,003 of 300,000 kept)', async () => {
    const slow = await BlackHoleProxy.start({ host: '127.0.0.1', port: big.port }, { latencyMs: 25 });
    try {
      const job = id('slowlink');
      // 1,000 lines a batch, one batch a round trip: 20,000 lines/s over this link, so 100,000.
      const run = await jobrun(job, ['seq', '1', '100000'], { env: { REDIS_URL: slow.url } });
      expect(run.exitCode).toBe(0);
      await expectSeq(job, 100_000, bigRedis);
    } finally {
      await slow.stop();
    }
  }, 120_000);

  it('Redis paused for 3 s mid-run (CLIENT PAUSE): every line, the command never stalled', async () => {
    const job = id('paused');
    const control = big.client();
    let paused = false;
    let pausedAt = 0;
    const run = await jobrun(job, ['bash', '-c', 'seq 1 100000; sleep 0.5; seq 100001 300000'], {
      env: { REDIS_URL: big.url },
      onStdout: (out) => {
        if (paused || !out.includes('\n50000\n')) return;
        paused = true;
        pausedAt = Date.now();
        void control.call('CLIENT', 'PAUSE', '3000', 'WRITE');
      },
    });
    expect(paused).toBe(true);
    await expectSeq(job, 300_000, bigRedis);
    expect(run.exitCode).toBe(0);
    // The job could only end once Redis wrote again: the lines were waiting, not lost.
    expect((await getJob(bigRedis, job))!.finishedAt! - pausedAt).toBeGreaterThanOrEqual(2500);
    control.disconnect();
  }, 120_000);

  it('a full spool drops lines, and the job and the terminal say how many and why; the run fails', async () => {
    const job = id('fullspool');
    const control = big.client();
    let paused = false;
    const run = await jobrun(job, ['bash', '-c', 'seq 1 1000; sleep 0.3; seq 1001 300000'], {
      env: { REDIS_URL: big.url, JOBRUN_SPOOL_MAX_BYTES: '65536' },
      onStdout: (out) => {
        if (paused || !out.includes('\n1000\n')) return;
        paused = true;
        void control.call('CLIENT', 'PAUSE', '2000', 'WRITE');
      },
    });
    control.disconnect();
    expect(run.exitCode).toBe(1); // seq succeeded, but the job does not hold what it wrote
    expect(run.stderr).toMatch(/the spool is full: dropped \d+ lines/);
    const stored = await storedLines(bigRedis, job);
    const notices = stored.filter((l) => l.stream === 'stderr');
    expect(notices.length).toBeGreaterThanOrEqual(1);
    let dropped = 0;
    for (const notice of notices) {
      const count =
        /^\[jobstream\] (\d+) lines were dropped here: the runner's spool \(64 KiB\) was full /.exec(
          notice.line,
        );
      expect(count).not.toBeNull();
      dropped += Number(count![1]);
    }
    // Kept lines are in order, and with the dropped ones account for every line written.
    const kept = stored.filter((l) => l.stream === 'stdout').map((l) => Number(l.line));
    expect(kept.every((n, i) => i === 0 || n > kept[i - 1]!)).toBe(true);
    expect(kept.length + dropped).toBe(300_000);
    expect(kept.slice(0, 1000)).toEqual(range(1, 1000));
    expect(stored.at(-1)?.stream).toBe('stderr'); // seq outran the paused Redis to its end: the notice is last
  }, 120_000);

  it('a job finished by someone else (the reaper) stops the command; jobrun says what was not stored, exits 1', async () => {
    const job = id('reaped');
    let ended = false;
    const run = await jobrun(
      job,
      ['bash', '-c', 'for i in $(seq 1 600); do echo line $i; sleep 0.05; done'],
      {
        onStdout: (out) => {
          if (ended || !out.includes('line 5\n')) return;
          ended = true;
          void setJobStatus(redis, job, 'failed', { errorMessage: 'runner lost' });
        },
      },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/had already ended \(.*\); \d+ lines could not be stored/);
    expect(run.stdout).not.toContain('line 600'); // the command was stopped, not run to its end
    expect(await getJob(redis, job)).toMatchObject({ status: 'failed', errorMessage: 'runner lost' });
  }, 60_000);

  it('--pty: one stream in exactly the order written, a terminal for the command', async () => {
    const job = id('pty');
    const run = await jobrun(
      job,
      [
        'bash',
        '-c',
        'for i in 1 2 3 4 5; do echo out $i; echo err $i >&2; done; [ -t 1 ] && echo "a tty: $TERM"; exit 4',
      ],
      { flags: ['--pty'] },
    );
    expect(run.exitCode).toBe(4);
    const stored = await lines(job);
    expect(stored.map((l) => l.line)).toEqual([
      ...range(1, 5).flatMap((i) => [`out ${i}`, `err ${i}`]),
      expect.stringMatching(/^a tty: \S+$/),
    ]);
    expect(new Set(stored.map((l) => l.stream))).toEqual(new Set(['stdout']));
    expect(await getJob(redis, job)).toMatchObject({ status: 'failed', exitCode: 4 });
  }, 30_000);

  it('a \\r progress bar is published live while it is drawn; only its final text is stored', async () => {
    const job = id('progress');
    const events = await collectMessages(server, eventsChannel(job));
    const script =
      'echo fetching; for i in 1 2 3 4 5; do printf "\\rDownloading %3d%%" $((i*20)); sleep 0.4; done; echo; echo done';
    const run = await jobrun(job, ['bash', '-c', script]);
    expect(run.exitCode).toBe(0);
    expect((await lines(job)).map((l) => l.line)).toEqual(['fetching', 'Downloading 100%', 'done']);
    const progress: ProgressFrame[] = [];
    for (;;) {
      const frame = JSON.parse((await events.next(1, 5000))[0]!) as ServerFrame;
      if (frame.type === 'progress') progress.push(frame);
      if (frame.type === 'status' && frame.job.status === 'success') break;
    }
    await events.close();
    expect(progress.length).toBeGreaterThanOrEqual(3); // 2 s of bar, one every 250 ms when it changed
    for (const frame of progress) {
      expect(frame).toMatchObject({ jobId: job, afterSeq: 1, stream: 'stdout' });
      expect(frame.line).toMatch(/^Downloading +\d+%$/);
    }
    const percents = progress.map((f) => Number(/(\d+)%/.exec(f.line)![1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(percents).size).toBe(percents.length); // only when it changed
  }, 30_000);
});

describe('on a Redis Cluster', () => {
  let cluster: PrivateRedisCluster;
  let client: RedisConnection;
  beforeAll(async () => {
    cluster = await PrivateRedisCluster.start();
    client = cluster.client();
  }, 60_000);
  afterAll(async () => {
    client.disconnect();
    await cluster.stop();
  });

  it('90,000 lines as fast as seq writes them, exact, and a last line without a newline', async () => {
    const job = id('cluster');
    const env = { REDIS_CLUSTER_NODES: cluster.nodeList, REDIS_URL: '' };
    const run = await jobrun(job, ['bash', '-c', 'seq 1 90000; printf "50%%"; sleep 0.6'], { env });
    expect(run.exitCode).toBe(0);
    const stored = await storedLines(client, job);
    expect(stored.length).toBe(90_001);
    expect(stored.slice(0, 90_000).findIndex((l, i) => l.line !== String(i + 1))).toBe(-1);
    expect(stored.at(-1)?.line).toBe('50%');
  }, 120_000);
});
