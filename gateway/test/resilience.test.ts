/**
 * Guarantee 5 (a slow socket never makes the gateway buffer without bound nor slows the others)
 * and recovery from a Redis restart (pub/sub messages published while the subscriber was
 * reconnecting are recovered from the list), over real sockets and a real redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { Duplex } from 'node:stream';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { REPLAY_PAGE_BYTES, SEND_HIGH_WATER_BYTES } from '../src/limits.js';
import { startHarness, token, TestClient, type Harness, range } from './harness.js';

describe('a slow socket', () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(async () => {
    h = await startHarness();
    redis = h.redis.client();
  });
  afterAll(() => h.stop());

  it('is cut off from live frames at the high-water mark, others keep up, and it catches up exactly once', async () => {
    const id = `${h.redis.namespace()}-slow`;
    await createJob(redis, { id, owner: 'alice', title: 'slow' });
    await setJobStatus(redis, id, 'running');
    const slow = await TestClient.connect(h.gateway.url, { token: token('alice') });
    const fast = await TestClient.connect(h.gateway.url, { token: token('alice') });
    for (const c of [slow, fast]) {
      c.send({ type: 'subscribe', jobId: id });
      await c.waitFor((f) => f.type === 'status');
    }
    // The slow client stops reading: its TCP socket is paused, so the kernel buffers fill up.
    const tcp = (slow.ws as unknown as { _socket: Duplex })._socket;
    tcp.pause();
    const line = 'x'.repeat(2000);
    const batches = 60; // 60 × 100 lines × ~2 KB ≈ 12 MB, far above the 1 MiB high-water mark
    let peak = 0;
    const session = () => [...h.gateway.sessions].find((s) => s.bufferedAmount > 0);
    for (let b = 0; b < batches; b++) {
      await appendLines(
        redis,
        id,
        Array.from({ length: 100 }, () => ({ stream: 'stdout' as const, line })),
      );
      peak = Math.max(peak, session()?.bufferedAmount ?? 0);
    }
    const total = batches * 100;
    // the fast socket is unaffected: it has every line while the slow one is still paused
    await fast.waitFor(() => fast.seqs(id).length === total, 10_000);
    expect(fast.seqs(id)).toEqual(range(1, total));
    // The gateway stops adding to a socket's buffer once it is over the mark: it overshoots by
    // at most the one frame that crossed it (a ~200 KB live batch here, or a replay page).
    expect(peak).toBeLessThan(SEND_HIGH_WATER_BYTES + REPLAY_PAGE_BYTES);
    // resumed, the slow socket catches up from Redis: every line exactly once, in order
    tcp.resume();
    await slow.waitFor(() => slow.seqs(id).length >= total, 20_000);
    expect(slow.seqs(id)).toEqual(range(1, total));
    await setJobStatus(redis, id, 'success');
    await slow.waitFor((f) => f.type === 'done', 10_000);
    slow.close();
    fast.close();
  }, 60_000);
});

describe('a Redis restart', () => {
  let server: PrivateRedis;
  let h: Harness;
  beforeAll(async () => {
    server = await PrivateRedis.start({ aof: true });
    h = await startHarness({}, server);
  });
  afterAll(async () => {
    await h.stop();
    await server.stop();
  });

  it('recovers lines published while the subscriber reconnected, exactly once', async () => {
    const id = 'restart-job';
    let redis = server.client();
    await createJob(redis, { id, owner: 'alice', title: 'restart' });
    await setJobStatus(redis, id, 'running');
    await appendLines(redis, id, [{ stream: 'stdout', line: 'one' }]);
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    client.send({ type: 'subscribe', jobId: id });
    await client.waitFor(() => client.seqs(id).length === 1);

    await server.restart(); // AOF keeps the job; the gateway's connections drop and come back
    redis = server.client();
    // Written as soon as Redis is back, quite possibly before the gateway resubscribed:
    // pub/sub would lose these; the resync reads them from the list.
    await appendLines(
      redis,
      id,
      range(2, 50).map((n) => ({ stream: 'stdout' as const, line: `line ${n}` })),
    );
    await client.waitFor(() => client.seqs(id).length >= 50, 15_000);
    await setJobStatus(redis, id, 'success');
    await client.waitFor((f) => f.type === 'done', 10_000);
    expect(client.seqs(id)).toEqual(range(1, 50));
    expect(client.closeCode).toBeNull(); // the browser never noticed
    client.close();
  }, 60_000);
});
