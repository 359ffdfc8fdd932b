import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DoneFrame, GapFrame, ProgressFrame, StatusFrame } from '../../shared/protocol.js';
import { appendLines, createJob, publishProgress, setJobStatus } from '../../shared/redis/functions.js';
import { seededRandom, testSeed } from '../../shared/testing/seeded-random.js';
import { eventsChannel, jobKey, outputKey } from '../../shared/keys.js';
import { TOPOLOGIES, startStack, type Stack } from '../../scripts/lib/stack.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { eventually, range, SECRET, token, TestClient, writeInRandomBatches } from './harness.js';

/**
 * The subscription suite, run against a standalone Redis and a Redis Cluster from one definition
 * (as centrifuge runs one broker suite against every broker).
 */
describe.each(TOPOLOGIES)('on %s Redis', (topology) => {
  const MAX_LINES = 300;
  let s: Stack;
  let redis: RedisConnection;

  beforeAll(async () => {
    s = await startStack({
      topology,
      secret: SECRET,
      config: { library: { maxLines: MAX_LINES, retentionS: 3600 } },
    });
    redis = s.client();
  }, 60_000);
  afterAll(() => s.stop());

  async function job(owner = 'alice', lines = 0): Promise<string> {
    const id = `${s.namespace()}-job`;
    await createJob(redis, { id, owner, title: `job of ${owner}` });
    await setJobStatus(redis, id, 'running');
    for (let i = 0; i < lines; i += 100) {
      const batch = Array.from({ length: Math.min(100, lines - i) }, (_, k) => ({
        stream: 'stdout' as const,
        line: `line ${i + k + 1}`,
      }));
      await appendLines(redis, id, batch);
    }
    return id;
  }

  describe('subscribe', () => {
    it('replays all retained lines, goes live, sends done after the last line and keeps the socket open', async () => {
      const id = await job('alice', 120);
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: id });
      const status = await client.waitFor<StatusFrame>((f) => f.type === 'status');
      expect(status.job).toMatchObject({ id, owner: 'alice', status: 'running', lastSeq: 120 });
      await client.waitFor(() => client.seqs(id).length === 120);
      await appendLines(redis, id, [{ stream: 'stderr', line: 'live line' }]);
      await client.waitFor(() => client.seqs(id).length === 121);
      await setJobStatus(redis, id, 'success');
      const done = await client.waitFor<DoneFrame>((f) => f.type === 'done');
      expect(done).toEqual({ type: 'done', jobId: id, status: 'success', lastSeq: 121 });
      const frames = client.framesFor(id);
      expect(frames[0]!.type).toBe('status');
      expect(frames.at(-1)!.type).toBe('done');
      expect(client.seqs(id)).toEqual(range(1, 121));
      // the subscription ended, the socket did not
      client.send({ type: 'ping', id: 'still-open' });
      await client.waitFor((f) => f.type === 'pong' && f.id === 'still-open');
      client.close();
    });

    it('since: only lines after it; at or past lastSeq: nothing replayed', async () => {
      const id = await job('alice', 50);
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: id, since: 40 });
      await client.waitFor(() => client.seqs(id).length === 10);
      expect(client.seqs(id)).toEqual(range(41, 50));
      const other = await job('alice', 5);
      client.send({ type: 'subscribe', jobId: other, since: 5 });
      await client.waitFor((f) => f.type === 'status' && f.jobId === other);
      await appendLines(redis, other, [{ stream: 'stdout', line: 'six' }]);
      await client.waitFor(() => client.seqs(other).length === 1);
      expect(client.seqs(other)).toEqual([6]);
      client.close();
    });

    it('tail: only the last N lines, then live', async () => {
      const id = await job('alice', 80);
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: id, tail: 5 });
      await client.waitFor(() => client.seqs(id).length === 5);
      expect(client.seqs(id)).toEqual(range(76, 80));
      client.close();
    });

    it('announces trimmed lines with one gap frame right after status', async () => {
      const id = await job('alice', MAX_LINES + 100); // seqs 1..100 trimmed
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: id });
      await client.waitFor(() => client.seqs(id).length === MAX_LINES);
      const frames = client.framesFor(id);
      expect(frames.map((f) => f.type).slice(0, 2)).toEqual(['status', 'gap']);
      expect(frames[1] as GapFrame).toEqual({
        type: 'gap',
        jobId: id,
        fromSeq: 1,
        toSeq: 100,
        reason: 'trimmed',
      });
      expect(client.seqs(id)).toEqual(range(101, MAX_LINES + 100));
      client.send({ type: 'subscribe', jobId: await job('alice', 1), since: 0 });
      client.close();
    });

    it('a finished job replays and ends with done at once', async () => {
      const id = await job('alice', 30);
      await setJobStatus(redis, id, 'failed', { exitCode: 1 });
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: id, tail: 10 });
      const done = await client.waitFor<DoneFrame>((f) => f.type === 'done');
      expect(done).toEqual({ type: 'done', jobId: id, status: 'failed', lastSeq: 30 });
      expect(client.seqs(id)).toEqual(range(21, 30));
      client.close();
    });

    it('unknown job and someone else’s: the same not_found (existence never revealed); an admin sees every job', async () => {
      const bobs = await job('bob', 3);
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: 'no-such-job' });
      client.send({ type: 'subscribe', jobId: bobs });
      await client.waitFor((f) => f.type === 'error' && f.jobId === bobs);
      const errors = client.frames.filter((f) => f.type === 'error');
      expect(errors).toEqual([
        { type: 'error', jobId: 'no-such-job', code: 'not_found', message: 'job no-such-job not found' },
        { type: 'error', jobId: bobs, code: 'not_found', message: `job ${bobs} not found` },
      ]);
      await appendLines(redis, bobs, [{ stream: 'stdout', line: 'secret' }]);
      const admin = await TestClient.connect(s.url, { token: token('root', 'admin') });
      admin.send({ type: 'subscribe', jobId: bobs });
      await admin.waitFor(() => admin.seqs(bobs).length === 4);
      expect(client.seqs(bobs)).toEqual([]);
      client.close();
      admin.close();
    });

    it('subscribing twice is answered with a fresh status and changes nothing else; unsubscribe stops the flow', async () => {
      const id = await job('alice', 3);
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: id });
      client.send({ type: 'subscribe', jobId: id, since: 1 });
      client.send({ type: 'ping', id: 1 });
      await client.waitFor((f) => f.type === 'pong');
      await client.waitFor(() => client.seqs(id).length === 3);
      // every subscribe is answered: the repeat with a status of its own, the stream untouched
      expect(client.framesFor(id).filter((f) => f.type === 'status')).toHaveLength(2);
      expect(client.seqs(id)).toEqual([1, 2, 3]);
      client.send({ type: 'unsubscribe', jobId: id });
      client.send({ type: 'ping', id: 2 });
      await client.waitFor((f) => f.type === 'pong' && f.id === 2);
      const before = client.framesFor(id).length;
      await appendLines(redis, id, [{ stream: 'stdout', line: 'after unsubscribe' }]);
      // a second subscriber proves the line was published and delivered before we look
      const witness = await TestClient.connect(s.url, { token: token('alice') });
      witness.send({ type: 'subscribe', jobId: id, since: 3 });
      await witness.waitFor(() => witness.seqs(id).length === 1);
      client.send({ type: 'ping', id: 3 });
      await client.waitFor((f) => f.type === 'pong' && f.id === 3);
      expect(client.framesFor(id)).toHaveLength(before);
      client.close();
      witness.close();
    });

    it('keeps one Redis subscription per job and gateway however many sockets watch it, and drops it after the last', async () => {
      const id = await job('alice', 1);
      const clients = await Promise.all(
        [1, 2, 3, 4].map(() => TestClient.connect(s.url, { token: token('alice') })),
      );
      for (const c of clients) c.send({ type: 'subscribe', jobId: id });
      await Promise.all(clients.map((c) => c.waitFor(() => c.seqs(id).length === 1)));
      // One Redis subscription per job per gateway process (exactly one with a single gateway).
      const [subscribers] = await s.channelSubscribers([id]);
      expect(subscribers).toBeGreaterThanOrEqual(1);
      expect(subscribers).toBeLessThanOrEqual(s.gateways.length);
      for (const c of clients) c.send({ type: 'unsubscribe', jobId: id });
      for (const c of clients) {
        c.send({ type: 'ping', id: 'u' });
        await c.waitFor((f) => f.type === 'pong');
      }
      // UNSUBSCRIBE went out after the last reply; wait for Redis to see it
      await eventually(
        async () => (await s.channelSubscribers([id]))[0] === 0,
        2000,
        'UNSUBSCRIBE seen by Redis',
      );
      clients.forEach((c) => c.close());
    });

    it('a final status counting lines whose messages never came: reads them from the list, then done', async () => {
      const id = await job('alice', 2);
      const client = await TestClient.connect(s.url, { token: token('alice') });
      client.send({ type: 'subscribe', jobId: id });
      await client.waitFor(() => client.seqs(id).length === 2);
      // Line 3 is stored as the library stores it, but its pub/sub message is lost (as in a
      // subscriber swap): only the final status, which counts it, is announced.
      await redis.hincrby(jobKey(id), 'seq', 1);
      await redis.rpush(
        outputKey(id),
        JSON.stringify({ seq: 3, ts: Date.now(), stream: 'stdout', line: 'never announced' }),
      );
      await setJobStatus(redis, id, 'success');
      const done = await client.waitFor<DoneFrame>((f) => f.type === 'done', 5000);
      expect(done).toMatchObject({ jobId: id, lastSeq: 3 });
      expect(client.seqs(id)).toEqual([1, 2, 3]);
      expect(client.framesFor(id).filter((f) => f.type === 'gap')).toEqual([]);
      client.close();
    });
  });

  describe('progress', () => {
    it('goes to live subscriptions right after the line it follows, never replayed, stale ones dropped', async () => {
      const id = await job('alice', 30);
      const live = await TestClient.connect(s.url, { token: token('alice') });
      live.send({ type: 'subscribe', jobId: id });
      await live.waitFor(() => live.seqs(id).length === 30);
      expect(await publishProgress(redis, id, 'stdout', 'Downloading  42%')).toBe(30);
      const shown = await live.waitFor<ProgressFrame>((f) => f.type === 'progress');
      expect(shown).toEqual({
        type: 'progress',
        jobId: id,
        afterSeq: 30,
        stream: 'stdout',
        line: 'Downloading  42%',
      });

      // One that comes later gets the lines, not a progress frame that was only ever live.
      const late = await TestClient.connect(s.url, { token: token('alice') });
      late.send({ type: 'subscribe', jobId: id });
      await late.waitFor(() => late.seqs(id).length === 30);
      await appendLines(redis, id, [{ stream: 'stdout', line: 'Downloading 100%' }]);
      await late.waitFor(() => late.seqs(id).length === 31);
      // A frame naming an older line (a writer going around the library) is dropped.
      const stale = JSON.stringify({ ...shown, afterSeq: 29, line: 'stale' });
      if (s.cluster) await redis.call('SPUBLISH', eventsChannel(id), stale);
      else await redis.publish(eventsChannel(id), stale);
      await publishProgress(redis, id, 'stderr', 'Linking');
      await live.waitFor((f) => f.type === 'progress' && f.line === 'Linking');
      await late.waitFor((f) => f.type === 'progress' && f.line === 'Linking');
      await setJobStatus(redis, id, 'success');
      await live.waitFor((f) => f.type === 'done');
      await late.waitFor((f) => f.type === 'done');
      expect(
        live
          .framesFor(id)
          .filter((f) => f.type === 'progress')
          .map((f) => (f as ProgressFrame).line),
      ).toEqual(['Downloading  42%', 'Linking']);
      expect(
        late
          .framesFor(id)
          .filter((f) => f.type === 'progress')
          .map((f) => (f as ProgressFrame).afterSeq),
      ).toEqual([31]);
      live.close();
      late.close();
    });
  });

  describe('the replay→live switch under fire', () => {
    it('dozens of sockets subscribing at random moments with random positions each get exactly their range', async () => {
      const random = seededRandom(testSeed('SWITCH_SEED', 'replay→live switch under fire'));
      const id = await job('alice', 0);
      const total = 3000;
      const writer = writeInRandomBatches(redis, id, {
        total,
        random,
        pause: () => new Promise((resolve) => setImmediate(resolve)),
      });
      const subscribers = Array.from({ length: 40 }, async (_, i) => {
        await sleep(random() * 400);
        const client = await TestClient.connect(s.url, { token: token('alice') });
        const mode = i % 3;
        const position = Math.floor(random() * Math.max(1, writer.written()));
        const request =
          mode === 0
            ? { type: 'subscribe', jobId: id }
            : mode === 1
              ? { type: 'subscribe', jobId: id, since: position }
              : { type: 'subscribe', jobId: id, tail: 1 + position };
        client.send(request);
        const status = await client.waitFor<StatusFrame>((f) => f.type === 'status');
        const done = await client.waitFor<DoneFrame>((f) => f.type === 'done', 20_000);
        expect(done.lastSeq).toBe(total);
        const lastSeqAtStart = status.job.lastSeq;
        const start =
          mode === 0 ? 1 : mode === 1 ? position + 1 : Math.max(1, lastSeqAtStart - (1 + position) + 1);
        // Lines and gaps together cover start..total once, in order. With a 300-line list and a
        // writer at full speed the list can be trimmed during a replay, so more than one gap is legal.
        const covered = client
          .framesFor(id)
          .flatMap((f) =>
            f.type === 'output'
              ? f.lines.map((l) => l.seq)
              : f.type === 'gap' && 'fromSeq' in f
                ? range(f.fromSeq, f.toSeq)
                : [],
          );
        expect(covered).toEqual(range(start, total));
        expect(client.framesFor(id).filter((f) => f.type === 'gap' && f.reason !== 'trimmed')).toEqual([]);
        const frames = client.framesFor(id);
        expect(frames[0]!.type).toBe('status');
        expect(frames.at(-1)!.type).toBe('done');
        client.close();
      });
      await Promise.all([writer.done, ...subscribers]);
    }, 60_000);
  });

  describe('jobs feed', () => {
    it('a user sees only its own jobs’ changes; an admin sees all', async () => {
      const alice = await TestClient.connect(s.url, { token: token('alice') });
      const bob = await TestClient.connect(s.url, { token: token('bob') });
      const admin = await TestClient.connect(s.url, { token: token('root', 'admin') });
      for (const c of [alice, bob, admin]) {
        c.send({ type: 'watch', topic: 'jobs' });
        await c.waitFor((f) => f.type === 'watching');
      }
      const mine = await job('alice');
      const theirs = await job('bob');
      await setJobStatus(redis, theirs, 'failed');
      const jobsOf = (c: TestClient) =>
        c.frames.flatMap((f) => (f.type === 'job' ? [`${f.job.id}:${f.job.status}`] : []));
      await admin.waitFor(() => jobsOf(admin).length === 5);
      await bob.waitFor(() => jobsOf(bob).length === 3);
      await alice.waitFor(() => jobsOf(alice).length === 2);
      expect(jobsOf(alice)).toEqual([`${mine}:queued`, `${mine}:running`]);
      expect(jobsOf(bob)).toEqual([`${theirs}:queued`, `${theirs}:running`, `${theirs}:failed`]);
      alice.send({ type: 'unwatch', topic: 'jobs' });
      alice.send({ type: 'ping', id: 'u' });
      await alice.waitFor((f) => f.type === 'pong' && f.id === 'u');
      await setJobStatus(redis, mine, 'success');
      await admin.waitFor(() => jobsOf(admin).length === 6);
      expect(jobsOf(alice)).toHaveLength(2);
      [alice, bob, admin].forEach((c) => c.close());
    });
  });
});
