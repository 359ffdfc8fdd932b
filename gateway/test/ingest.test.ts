/**
 * Runners over HTTP (docs/runners.md "Over HTTP"): job creation and its job token, idempotent
 * appends with `after`, a finish that cannot lose the tail, and every limit and bad input with
 * its error — none of which stores a partial batch, touches another job or reads anything.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { storedLines } from '../../shared/testing/output.js';
import { httpGet, range, startHarness, TestClient, token, upgradeStatus, type Harness } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness();
  redis = h.redis.client();
});
afterAll(() => h.stop());

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}
async function post(
  path: string,
  bearer: string,
  body: unknown,
  contentType = 'application/json',
): Promise<Answer> {
  const res = await fetch(`${h.gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': contentType },
    body:
      typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    headers: res.headers,
  };
}
const runner = () => token('ci-controller', 'runner');
const lines = (...texts: string[]) => texts.map((line) => ({ line }));

async function newJob(owner = 'alice'): Promise<{ id: string; jobToken: string }> {
  const id = `${h.redis.namespace()}-http`;
  const created = await post('/api/jobs', runner(), { id, title: 'over HTTP', owner });
  expect(created.status).toBe(201);
  return { id, jobToken: created.body.jobToken as string };
}
const texts = async (id: string) => (await storedLines(redis, id)).map((l) => l.line);

describe('creating a job', () => {
  it('a runner token creates a job for any owner and gets its job token; it reads nothing', async () => {
    const created = await post('/api/jobs', runner(), { title: 'build #12', owner: 'alice', branch: 'main' });
    expect(created.status).toBe(201);
    const job = created.body.job as { id: string; owner: string; status: string; branch: string };
    expect(job).toMatchObject({ owner: 'alice', status: 'queued', branch: 'main', title: 'build #12' });
    expect(created.body.jobToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await httpGet(h.gateway.url, `/api/jobs/${job.id}`, runner())).status).toBe(404);
    expect((await httpGet(h.gateway.url, '/api/jobs', runner())).body).toEqual({ jobs: [], next: null });
    expect((await httpGet(h.gateway.url, `/api/jobs/${job.id}`, token('alice'))).status).toBe(200);
  });

  it('a user token creates jobs for itself only', async () => {
    const mine = await post('/api/jobs', token('bob'), { title: 'mine' });
    expect((mine.body.job as { owner: string }).owner).toBe('bob');
    const theirs = await post('/api/jobs', token('bob'), { title: 'theirs', owner: 'alice' });
    expect(theirs.status).toBe(403);
  });

  it('a creation whose reply was lost can be retried by its caller; any other existing id is 409', async () => {
    const id = `${h.redis.namespace()}-retried`;
    const first = await post('/api/jobs', runner(), { id, title: 't', owner: 'alice' });
    const again = await post('/api/jobs', runner(), { id, title: 't', owner: 'alice' });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.jobToken).not.toBe(first.body.jobToken);
    expect((await post('/api/jobs', token('alice'), { id, title: 't' })).status).toBe(409);
    expect(
      (await post(`/api/jobs/${id}/lines`, again.body.jobToken as string, { after: 0, lines: lines('x') }))
        .status,
    ).toBe(200);
    await post(`/api/jobs/${id}/status`, again.body.jobToken as string, { status: 'running' });
    expect((await post('/api/jobs', runner(), { id, title: 't', owner: 'alice' })).status).toBe(409); // started: not a retry
  });

  it('refuses bad creation bodies by name: protected or unknown fields, a bad id', async () => {
    for (const body of [
      { title: 't', status: 'success' },
      { title: 't', seq: 5 },
      { id: 'a b', title: 't' },
      {},
    ]) {
      const answer = await post('/api/jobs', runner(), body);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'bad_request' } });
    }
  });
});

describe('appending with after', () => {
  it('a retried batch lands once, an overlapping one adds only what is new, a runner ahead of the job is told where it is', async () => {
    const { id, jobToken } = await newJob();
    const first = await post(`/api/jobs/${id}/lines`, jobToken, { after: 0, lines: lines('a', 'b', 'c') });
    expect(first.body).toEqual({ lastSeq: 3, cancelRequestedAt: 0 });
    expect(
      (await post(`/api/jobs/${id}/lines`, jobToken, { after: 0, lines: lines('a', 'b', 'c') })).body,
    ).toEqual({
      lastSeq: 3,
      cancelRequestedAt: 0,
    });
    const overlap = await post(`/api/jobs/${id}/lines`, jobToken, { after: 1, lines: lines('b', 'c', 'd') });
    expect(overlap.body.lastSeq).toBe(4);
    const ahead = await post(`/api/jobs/${id}/lines`, jobToken, { after: 9, lines: lines('j') });
    expect(ahead.status).toBe(409);
    expect(ahead.body).toMatchObject({ error: { code: 'seq_mismatch', lastSeq: 4 }, lastSeq: 4 });
    expect(await texts(id)).toEqual(['a', 'b', 'c', 'd']);
    expect(await redis.hget(`job:{${id}}`, 'heartbeatAt')).not.toBeNull(); // each call is a heartbeat
  });

  it('takes text/plain for curl --data-binary: one line per \\n, \\r\\n as \\n, a final \\n adds none', async () => {
    const { id, jobToken } = await newJob();
    const answer = await post(
      `/api/jobs/${id}/lines?after=0&stream=stderr`,
      jobToken,
      'one\r\ntwo\n\nfour\n',
      'text/plain',
    );
    expect(answer.body.lastSeq).toBe(4);
    expect((await storedLines(redis, id)).map((l) => [l.stream, l.line])).toEqual([
      ['stderr', 'one'],
      ['stderr', 'two'],
      ['stderr', ''],
      ['stderr', 'four'],
    ]);
  });

  it('cuts a line over 16 KiB and makes invalid UTF-8 U+FFFD, never an error', async () => {
    const { id, jobToken } = await newJob();
    const long = await post(`/api/jobs/${id}/lines`, jobToken, {
      after: 0,
      lines: lines('x'.repeat(20_000)),
    });
    expect(long.status).toBe(200);
    const bytes = Buffer.concat([
      Buffer.from('{"after":1,"lines":[{"line":"bad '),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(' end"}]}'),
    ]);
    expect((await post(`/api/jobs/${id}/lines`, jobToken, bytes)).status).toBe(200);
    const [cut, bad] = await texts(id);
    expect(Buffer.byteLength(cut!)).toBeLessThanOrEqual(16 * 1024);
    expect(cut).toMatch(/\[truncated \d+ bytes\]$/);
    expect(bad).toBe('bad \uFFFD\uFFFD end');
  });

  it('refuses bad batches whole, each with its error', async () => {
    const { id, jobToken } = await newJob();
    const cases: [unknown, number, string][] = [
      [{ after: 0, lines: [{ stream: 'stdlog', line: 'x' }] }, 400, 'bad_request'],
      [{ after: 0, lines: 'x' }, 400, 'bad_request'],
      [{ after: 0, lines: ['x'] }, 400, 'bad_request'],
      [{ after: -1, lines: lines('x') }, 400, 'bad_request'],
      [{ after: 1.5, lines: lines('x') }, 400, 'bad_request'],
      [{ after: 0, lines: Array.from({ length: 10_001 }, () => ({ line: 'x' })) }, 400, 'bad_request'],
      [{ after: 0, lines: [{ line: 'y'.repeat(600_000) }, { line: 'y'.repeat(600_000) }] }, 413, 'too_large'],
      ['{"after":0,', 400, 'bad_request'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await post(`/api/jobs/${id}/lines`, jobToken, body);
      expect([answer.status, (answer.body.error as { code: string }).code]).toEqual([status, code]);
    }
    expect(await texts(id)).toEqual([]);
  });

  it('a job token writes its own job only, and reads nothing', async () => {
    const mine = await newJob();
    const other = await newJob();
    const foreign = await post(`/api/jobs/${other.id}/lines`, mine.jobToken, { after: 0, lines: lines('x') });
    expect(foreign.status).toBe(404);
    expect(
      (await post(`/api/jobs/${mine.id}/lines`, token('alice'), { after: 0, lines: lines('x') })).status,
    ).toBe(404);
    expect(
      (await post(`/api/jobs/${mine.id}/lines`, 'A'.repeat(43), { after: 0, lines: lines('x') })).status,
    ).toBe(404);
    expect((await httpGet(h.gateway.url, `/api/jobs/${mine.id}/output`, mine.jobToken)).status).toBe(401);
    expect(await upgradeStatus(h.gateway.url, { token: mine.jobToken })).toBe(401);
    expect(await texts(other.id)).toEqual([]);
  });

  it('a flooding runner gets 429 with Retry-After', async () => {
    const { id, jobToken } = await newJob();
    // Waves of 100 at once until one is refused: past the burst (400) faster than the refill.
    let limited: Answer | undefined;
    for (let wave = 0; wave < 40 && !limited; wave++) {
      const answers = await Promise.all(
        range(1, 100).map(() => post(`/api/jobs/${id}/heartbeat`, jobToken, {})),
      );
      limited = answers.find((a) => a.status === 429);
    }
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited!.body).toMatchObject({ error: { code: 'rate_limited' } });
  }, 30_000);
});

describe('heartbeat, status, progress', () => {
  it('a finish names the lastSeq it believes stored: a mismatch is 409 with the real one; the same finish again is 200', async () => {
    const { id, jobToken } = await newJob();
    expect((await post(`/api/jobs/${id}/status`, jobToken, { status: 'running' })).body).toMatchObject({
      status: 'running',
    });
    await post(`/api/jobs/${id}/lines`, jobToken, { after: 0, lines: lines('a', 'b') });
    expect((await post(`/api/jobs/${id}/status`, jobToken, { status: 'success' })).status).toBe(400);
    const early = await post(`/api/jobs/${id}/status`, jobToken, { status: 'success', lastSeq: 1 });
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ error: { code: 'seq_mismatch', lastSeq: 2 } });
    const done = await post(`/api/jobs/${id}/status`, jobToken, {
      status: 'success',
      lastSeq: 2,
      exitCode: 0,
    });
    expect(done.body).toMatchObject({ status: 'success', exitCode: 0, lastSeq: 2 });
    expect((await post(`/api/jobs/${id}/status`, jobToken, { status: 'success', lastSeq: 2 })).status).toBe(
      200,
    );
    const late = await post(`/api/jobs/${id}/lines`, jobToken, { after: 2, lines: lines('c') });
    expect([late.status, (late.body.error as { code: string }).code]).toEqual([409, 'job_finished']);
    expect((await post(`/api/jobs/${id}/heartbeat`, jobToken, {})).status).toBe(409);
    const protectedField = await post(`/api/jobs/${id}/status`, jobToken, {
      status: 'running',
      owner: 'mallory',
    });
    expect(protectedField.status).toBe(400);
  });

  it('each reply carries cancelRequestedAt, and progress reaches live watchers', async () => {
    const { id, jobToken } = await newJob();
    await post(`/api/jobs/${id}/status`, jobToken, { status: 'running' });
    const watcher = await TestClient.connect(h.gateway.url, { token: token('alice') });
    watcher.send({ type: 'subscribe', jobId: id });
    await watcher.waitFor((f) => f.type === 'status');
    expect((await post(`/api/jobs/${id}/progress`, jobToken, { line: 'Downloading 42%' })).status).toBe(200);
    await watcher.waitFor((f) => f.type === 'progress' && f.line === 'Downloading 42%');
    const cancel = await fetch(`${h.gateway.url}/api/jobs/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token('alice')}` },
    });
    expect(cancel.status).toBe(202);
    const beat = await post(`/api/jobs/${id}/heartbeat`, jobToken, {});
    expect(beat.body.cancelRequestedAt).toBeGreaterThan(0);
    const appended = await post(`/api/jobs/${id}/lines`, jobToken, { after: 0, lines: lines('stopping') });
    expect(appended.body.cancelRequestedAt).toBe(beat.body.cancelRequestedAt);
    watcher.close();
  });
});
