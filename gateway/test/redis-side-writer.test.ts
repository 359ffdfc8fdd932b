/**
 * What a writer going around the function library can break (issue 18): a malformed list entry
 * is read as an error line at its seq and counted, never a broken page or response; a frame
 * published on one job's channel naming another job reaches nobody. Real Redis, real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { eventsChannel, outputKey } from '../../shared/keys.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { metric, range, startHarness, TestClient, token, type Harness } from './harness.js';

describe('a Redis-side writer', () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(async () => {
    h = await startHarness();
    redis = h.redis.client();
  });
  afterAll(() => h.stop());

  const auth = { authorization: `Bearer ${token('alice')}` };

  it('a malformed stored entry is an error line at its seq on every reader, and counted', async () => {
    const id = `${h.redis.namespace()}-malformed`;
    await createJob(redis, { id, owner: 'alice', title: 'malformed' });
    await appendLines(
      redis,
      id,
      range(1, 5).map((n) => ({ stream: 'stdout' as const, line: `line ${n}` })),
    );
    await setJobStatus(redis, id, 'success');
    await redis.lset(outputKey(id), 2, 'not json at all'); // seq 3
    await redis.lset(outputKey(id), 3, '{"seq":4,"line":"unterminated}'); // seq 4: right ends, wrong middle

    const output = await fetch(`${h.gateway.url}/api/jobs/${id}/output`, { headers: auth });
    expect(output.status).toBe(200);
    const page = (await output.json()) as { lines: { seq: number; line: string }[] };
    expect(page.lines.map((l) => l.seq)).toEqual(range(1, 5));
    expect(page.lines[2]!.line).toMatch(/line 3 of job .* is malformed/);
    expect(page.lines[3]!.line).toMatch(/line 4 of job .* is malformed/);

    const search = await fetch(`${h.gateway.url}/api/jobs/${id}/search?q=line`, { headers: auth });
    expect(search.status).toBe(200);
    expect(((await search.json()) as { total: number }).total).toBe(5);

    const text = await fetch(`${h.gateway.url}/api/jobs/${id}/output.txt`, { headers: auth });
    expect(text.status).toBe(200);
    expect((await text.text()).split('\n')).toHaveLength(6);

    const watcher = await TestClient.connect(h.gateway.url, { token: token('alice') });
    watcher.send({ type: 'subscribe', jobId: id });
    await watcher.waitFor((f) => f.type === 'done');
    expect(watcher.seqs(id)).toEqual(range(1, 5)); // every frame parsed (TestClient JSON.parses each)
    watcher.close();
    expect(await metric(h.gateway.url, 'jobstream_malformed_entries_total')).toBeGreaterThanOrEqual(4);
  });

  it('a frame published on one job’s channel naming another job is delivered to nobody', async () => {
    const [a, b] = [`${h.redis.namespace()}-a`, `${h.redis.namespace()}-b`];
    for (const id of [a, b]) {
      await createJob(redis, { id, owner: 'alice', title: id });
      await setJobStatus(redis, id, 'running');
    }
    const watcher = await TestClient.connect(h.gateway.url, { token: token('alice') });
    for (const id of [a, b]) {
      watcher.send({ type: 'subscribe', jobId: id });
      await watcher.waitFor((f) => f.type === 'status' && f.jobId === id);
    }
    const forged = { type: 'output', jobId: b, lines: [{ seq: 1, ts: 1, stream: 'stdout', line: 'forged' }] };
    await redis.publish(eventsChannel(a), JSON.stringify(forged));
    await appendLines(redis, a, [{ stream: 'stdout', line: 'real a' }]);
    await appendLines(redis, b, [{ stream: 'stdout', line: 'real b' }]);
    await watcher.waitFor(() => watcher.seqs(a).length === 1 && watcher.seqs(b).length === 1);
    const linesOf = (id: string): string[] =>
      watcher.framesFor(id).flatMap((f) => (f.type === 'output' ? f.lines.map((l) => l.line) : []));
    expect(linesOf(a)).toEqual(['real a']);
    expect(linesOf(b)).toEqual(['real b']);
    watcher.close();
  });
});
