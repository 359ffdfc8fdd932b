import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { appendLines, createJob } from '../../shared/redis/functions.js';
import { startHarness, token, TestClient, type Harness } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness({ maxSubscriptions: 3 });
  redis = h.redis.client();
});
afterAll(() => h.stop());

const errorsOf = (c: TestClient) => c.frames.flatMap((f) => (f.type === 'error' ? [f.code] : []));

describe('bad input', () => {
  it('answers every kind of bad frame with bad_request and keeps the socket open', async () => {
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    const bad = [
      'not json',
      '[1,2]',
      '"string"',
      'null',
      { type: 'nope' },
      { type: 'subscribe' },
      { type: 'subscribe', jobId: 'bad id with spaces' },
      { type: 'subscribe', jobId: 'x'.repeat(129) },
      { type: 'subscribe', jobId: 'ok', since: -1 },
      { type: 'subscribe', jobId: 'ok', since: 1.5 },
      { type: 'subscribe', jobId: 'ok', since: 1, tail: 1 },
      { type: 'subscribe', jobId: 'ok', tail: 'ten' },
      { type: 'watch', topic: 'everything' },
      { type: 'auth' },
      { jobId: 'ok' },
    ];
    for (const frame of bad) client.send(frame);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    client.send({ type: 'ping', id: 'after' });
    await client.waitFor((f) => f.type === 'pong' && f.id === 'after');
    expect(errorsOf(client)).toEqual(Array(bad.length + 1).fill('bad_request'));
    // replies keep the order of the frames: the pong comes last
    expect(client.frames.at(-1)).toEqual({ type: 'pong', id: 'after' });
    expect(client.closeCode).toBeNull();
    client.close();
  });

  it('closes a socket that sends a frame over 64 KiB with 1009, others unaffected', async () => {
    const bystander = await TestClient.connect(h.gateway.url, { token: token('bob') });
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    client.send({ type: 'ping', id: 'x'.repeat(70_000) });
    expect(await client.waitForClose()).toBe(1009);
    bystander.send({ type: 'ping', id: 1 });
    await bystander.waitFor((f) => f.type === 'pong');
    bystander.close();
  });

  it('caps subscriptions per socket with too_many_subscriptions', async () => {
    const ids = await Promise.all(
      [1, 2, 3, 4].map(async (i) => {
        const id = `${h.redis.namespace()}-cap${i}`;
        await createJob(redis, { id, owner: 'alice', title: 't' });
        return id;
      }),
    );
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    for (const id of ids) client.send({ type: 'subscribe', jobId: id });
    const refused = await client.waitFor((f) => f.type === 'error');
    expect(refused).toMatchObject({ type: 'error', jobId: ids[3], code: 'too_many_subscriptions' });
    client.send({ type: 'unsubscribe', jobId: ids[0] });
    client.send({ type: 'subscribe', jobId: ids[3] });
    await client.waitFor((f) => f.type === 'status' && f.jobId === ids[3]);
    client.close();
  });
});

describe('flooding', () => {
  it('a client under 20 frames a second is never limited', async () => {
    const client = await TestClient.connect(h.gateway.url, { token: token('calm') });
    for (let i = 0; i < 30; i++) {
      client.send({ type: 'ping', id: i });
      await sleep(55); // pacing the client is the point here
    }
    await client.waitFor((f) => f.type === 'pong' && f.id === 29);
    expect(errorsOf(client)).toEqual([]);
    client.close();
  });

  it('a flood gets rate_limited, then close 1008, while a quiet socket keeps its live lines', async () => {
    const id = `${h.redis.namespace()}-quiet`;
    await createJob(redis, { id, owner: 'bob', title: 'quiet' });
    const quiet = await TestClient.connect(h.gateway.url, { token: token('bob') });
    quiet.send({ type: 'subscribe', jobId: id });
    await quiet.waitFor((f) => f.type === 'status');
    const flood = await TestClient.connect(h.gateway.url, { token: token('mallory') });
    for (let i = 0; i < 500; i++) flood.send({ type: 'ping', id: i });
    await appendLines(redis, id, [{ stream: 'stdout', line: 'still flowing' }]);
    expect(await flood.waitForClose()).toBe(1008);
    expect(errorsOf(flood)).toContain('rate_limited');
    await quiet.waitFor(() => quiet.seqs(id).length === 1);
    quiet.close();
  });
});

describe('shutdown', () => {
  it('stop() closes every socket with 1012 and refuses new ones', async () => {
    const own = await startHarness({}, h.redis);
    const clients = await Promise.all(
      [1, 2, 3].map(() => TestClient.connect(own.gateway.url, { token: token('alice') })),
    );
    const stopped = own.gateway.stop(3000);
    const codes = await Promise.all(clients.map((c) => c.waitForClose()));
    await stopped;
    expect(codes).toEqual([1012, 1012, 1012]);
    await expect(TestClient.connect(own.gateway.url, { token: token('alice') })).rejects.toThrow();
  });
});
