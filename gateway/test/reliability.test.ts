/**
 * The gateway keeps its word at the edges (issue: trust under real conditions): nothing a socket
 * asked for outlives it, every subscribe is answered even in a burst, a Redis that loses the
 * function library gets it back, a deaf Redis connection is found and replaced, and bad input is
 * answered precisely. Real Redis, real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { jobKey } from '../../shared/keys.js';
import type { ServerFrame } from '../../shared/protocol.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { BlackHoleProxy } from '../../shared/testing/tcp-proxy.js';
import { eventually, metric, startHarness, token, TestClient, type Harness, range } from './harness.js';

async function runningJobs(redis: Redis, prefix: string, count: number, owner = 'alice'): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const id = `${prefix}-${i}`;
      await createJob(redis, { id, owner, title: `job ${i}` });
      await setJobStatus(redis, id, 'running');
      return id;
    }),
  );
}

describe('nothing outlives its socket', () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(async () => {
    h = await startHarness();
    redis = h.redis.client();
  });
  afterAll(() => h.stop());

  const numsub = async (ids: string[]): Promise<number> =>
    (await h.stack.channelSubscribers(ids)).reduce((sum, n) => sum + n, 0);

  it('20 sockets × 5 subscribes closed at once leave no subscription and no Redis channel', async () => {
    const ids = await runningJobs(redis, `${h.redis.namespace()}-leak`, 5);
    const clients = await Promise.all(
      range(1, 20).map(() => TestClient.connect(h.gateway.url, { token: token('alice') })),
    );
    for (const client of clients) {
      for (const id of ids) client.send({ type: 'subscribe', jobId: id });
      client.close(); // queued frames must not be handled after this
    }
    await eventually(async () => (await metric(h.gateway.url, 'jobstream_sockets')) === 0, 5000, 'sockets');
    await eventually(
      async () => (await metric(h.gateway.url, 'jobstream_subscriptions')) === 0 && (await numsub(ids)) === 0,
      5000,
      'subscriptions released',
    );
    expect(h.gateway.fanout.listenerCount).toBe(0);
  });

  it('a socket closed with 1008 for flooding leaves nothing behind', async () => {
    const ids = await runningJobs(redis, `${h.redis.namespace()}-flood`, 60);
    const flooder = await TestClient.connect(h.gateway.url, { token: token('alice') });
    for (const id of ids) flooder.send({ type: 'subscribe', jobId: id });
    for (let i = 0; i < 400; i++) flooder.send({ type: 'ping', id: i });
    expect(await flooder.waitForClose()).toBe(1008);
    await eventually(
      async () => (await metric(h.gateway.url, 'jobstream_subscriptions')) === 0 && (await numsub(ids)) === 0,
      5000,
      'subscriptions released',
    );
    expect(h.gateway.fanout.listenerCount).toBe(0);
  });
});

describe('every subscribe is answered', () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(async () => {
    h = await startHarness();
    redis = h.redis.client();
  });
  afterAll(() => h.stop());

  it('205 subscribes at once: 200 status and 5 too_many_subscriptions naming their jobs, socket open', async () => {
    const ids = await runningJobs(redis, `${h.redis.namespace()}-many`, 205);
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    for (const id of ids) client.send({ type: 'subscribe', jobId: id });
    await client.waitFor(
      () => client.frames.filter((f) => f.type === 'status' || f.type === 'error').length === 205,
      20_000,
    );
    const statuses = client.frames.filter((f) => f.type === 'status');
    const refusals = client.frames.filter((f) => f.type === 'error');
    expect(statuses).toHaveLength(200);
    expect(refusals.map((f) => f.type === 'error' && [f.code, f.jobId])).toEqual(
      ids.slice(200).map((id) => ['too_many_subscriptions', id]),
    );
    expect(client.closeCode).toBeNull();
    client.close();
  }, 30_000);

  it('a frame over the sustained rate gets rate_limited with its jobId and retryAfterMs, and the retry succeeds', async () => {
    const id = (await runningJobs(redis, `${h.redis.namespace()}-rate`, 1))[0]!;
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    for (let i = 0; i < 220; i++) client.send({ type: 'ping', id: i }); // the whole burst
    client.send({ type: 'subscribe', jobId: id });
    const refusal = await client.waitFor((f) => f.type === 'error' && f.jobId === id);
    expect(refusal).toMatchObject({ type: 'error', code: 'rate_limited', jobId: id });
    const retryAfterMs = refusal.type === 'error' ? refusal.retryAfterMs : undefined;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1000);
    // replies keep the order of the frames: every ping was answered before the refusal
    expect(client.frames.filter((f) => f.type === 'pong')).toHaveLength(220);
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs)); // the client obeys retryAfterMs
    client.send({ type: 'subscribe', jobId: id });
    await client.waitFor((f) => f.type === 'status' && f.jobId === id);
    expect(client.closeCode).toBeNull();
    client.close();
  });

  it('watch is answered with watching, then job frames follow', async () => {
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    client.send({ type: 'watch', topic: 'jobs' });
    await client.waitFor((f) => f.type === 'watching');
    expect(client.frames.at(-1)).toEqual({ type: 'watching', topic: 'jobs' });
    const id = `${h.redis.namespace()}-watched`;
    await createJob(redis, { id, owner: 'alice', title: 'watched' });
    await client.waitFor((f) => f.type === 'job' && f.job.id === id);
    client.close();
  });

  it('a Redis error reading the job is unavailable naming the job, never not_found', async () => {
    const id = `${h.redis.namespace()}-wrongtype`;
    await redis.set(jobKey(id), 'not a hash'); // HGETALL answers WRONGTYPE inside the MULTI
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    client.send({ type: 'subscribe', jobId: id });
    const answer = await client.waitFor((f) => f.type === 'error');
    expect(answer).toMatchObject({ type: 'error', code: 'unavailable', jobId: id });
    client.close();
  });
});

describe('bad input at the edges', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it('a malformed percent-encoding is 400 bad_request, with or without a token', async () => {
    const withToken: Record<string, string>[] = [{}, { authorization: `Bearer ${token('alice')}` }];
    for (const headers of withToken) {
      const response = await fetch(`${h.gateway.url}/api/jobs/%E0%A4%A`, { headers });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    }
  });

  it('a text frame that is not valid UTF-8 closes with 1007; other sockets do not notice', async () => {
    const bystander = await TestClient.connect(h.gateway.url, { token: token('bob') });
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    client.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await client.waitForClose()).toBe(1007);
    bystander.send({ type: 'ping', id: 'still here' });
    await bystander.waitFor((f) => f.type === 'pong');
    bystander.close();
  });
});

describe('a Redis that loses the function library', () => {
  let server: PrivateRedis;
  let h: Harness;
  beforeAll(async () => {
    server = await PrivateRedis.start(); // no persistence: a restart forgets everything
    h = await startHarness({}, server);
  });
  afterAll(async () => {
    await h.stop();
    await server.stop();
  });

  it('gets it back within seconds, without a gateway restart; /readyz follows', async () => {
    const readyz = async (): Promise<number> => (await fetch(`${h.gateway.url}/readyz`)).status;
    expect(await readyz()).toBe(200);
    await server.restart();
    const restartedAt = Date.now();
    await eventually(async () => (await readyz()) === 200, 10_000, '/readyz 200');
    const redis = server.client();
    await createJob(redis, { id: 'after-restart', owner: 'alice', title: 'works' }); // FCALL jobstream_create
    expect(Date.now() - restartedAt).toBeLessThan(10_000);
    expect(
      (await metric(h.gateway.url, 'jobstream_library_reloads_total{reason="reconnect"}')) +
        (await metric(h.gateway.url, 'jobstream_library_reloads_total{reason="missing"}')),
    ).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

describe('a Redis connection that goes silent without closing', () => {
  let server: PrivateRedis;
  let proxy: BlackHoleProxy;
  let h: Harness;
  beforeAll(async () => {
    server = await PrivateRedis.start();
    proxy = await BlackHoleProxy.start({ host: '127.0.0.1', port: server.port });
    h = await startHarness({ redisUrl: proxy.url }, server);
  });
  afterAll(async () => {
    await h.stop();
    await proxy.stop();
    await server.stop();
  });

  it('is found and replaced: live delivery resumes, every watcher ends with exactly 1..N, a ping is answered at once', async () => {
    const redis = server.client(); // the runner writes directly, not through the proxy
    const id = (await runningJobs(redis, 'deaf', 1))[0]!;
    const watchers = await Promise.all(
      [1, 2, 3].map(() => TestClient.connect(h.gateway.url, { token: token('alice') })),
    );
    for (const w of watchers) {
      w.send({ type: 'subscribe', jobId: id });
      await w.waitFor((f) => f.type === 'status');
    }
    await appendLines(redis, id, [{ stream: 'stdout', line: 'before' }]);
    for (const w of watchers) await w.waitFor(() => w.seqs(id).length === 1);

    const silenced = proxy.blackHole(); // both gateway connections: commands and subscriber
    expect(silenced).toBeGreaterThanOrEqual(2);
    const deafAt = Date.now();
    const total = 200;
    for (let n = 2; n <= total; n++) await appendLines(redis, id, [{ stream: 'stdout', line: `line ${n}` }]);

    // A ping while Redis is deaf is answered at once: nothing in front of it waits on Redis.
    const pinger = watchers[0]!;
    const pingAt = Date.now();
    pinger.send({ type: 'ping', id: 'deaf' });
    await pinger.waitFor((f) => f.type === 'pong' && f.id === 'deaf', 1000);
    expect(Date.now() - pingAt).toBeLessThan(500);

    for (const w of watchers) await w.waitFor(() => w.seqs(id).length >= total, 30_000);
    const resumedAfterMs = Date.now() - deafAt;
    console.log(`black-hole → every watcher caught up: ${resumedAfterMs} ms`);
    await setJobStatus(redis, id, 'success');
    for (const w of watchers) {
      await w.waitFor((f) => f.type === 'done', 10_000);
      expect(w.seqs(id)).toEqual(range(1, total));
    }
    expect(
      (await metric(h.gateway.url, 'jobstream_redis_forced_reconnects_total{connection="subscriber"}')) +
        (await metric(h.gateway.url, 'jobstream_redis_forced_reconnects_total{connection="commands"}')),
    ).toBeGreaterThanOrEqual(1);
    await eventually(
      async () => (await fetch(`${h.gateway.url}/readyz`)).status === 200,
      10_000,
      'ready again',
    );
    for (const w of watchers) w.close();
  }, 60_000);

  it('a subscribe Redis cannot confirm is answered unavailable (naming the job) within the deadline', async () => {
    const redis = server.client();
    const id = (await runningJobs(redis, 'deaf-subscribe', 1))[0]!;
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    proxy.blackHole();
    const sentAt = Date.now();
    client.send({ type: 'subscribe', jobId: id });
    client.send({ type: 'ping', id: 'behind' });
    const answer = await client.waitFor((f) => f.type === 'error' || f.type === 'status', 10_000);
    if (answer.type === 'error') {
      expect(answer).toMatchObject({ code: 'unavailable', jobId: id });
      expect(Date.now() - sentAt).toBeLessThan(h.config.redisDeadlineMs + 1000);
    }
    // answered in order, and promptly: the ping waited no longer than the deadline
    await client.waitFor((f) => f.type === 'pong' && f.id === 'behind', h.config.redisDeadlineMs + 1000);
    // Subscribing again, as a client does after `unavailable`, works once the connections are replaced.
    const retryUntilStatus = async (): Promise<void> => {
      for (;;) {
        const before = client.frames.length;
        client.send({ type: 'subscribe', jobId: id });
        const reply = await client.waitFor(
          (f: ServerFrame) =>
            client.frames.indexOf(f) >= before && (f.type === 'status' || f.type === 'error'),
          h.config.redisDeadlineMs + 1000,
        );
        if (reply.type === 'status') return;
        expect(reply).toMatchObject({ code: 'unavailable', jobId: id });
      }
    };
    await retryUntilStatus();
    client.close();
  }, 60_000);
});
