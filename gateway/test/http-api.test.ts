import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { startHarness, token, type Harness } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness({ library: { maxLines: 100, retentionS: 3600, eventsPublish: 'publish' } });
  redis = h.redis.client();
});
afterAll(() => h.stop());

async function get(
  path: string,
  bearer?: string,
): Promise<{ status: number; body: unknown; text: string; headers: Headers }> {
  const res = await fetch(`${h.gateway.url}${path}`, {
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, text, headers: res.headers };
}

describe('probes and metrics', () => {
  it('need no token', async () => {
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('jobstream_sockets');
    expect(metrics.text).toContain('jobstream_lines_delivered_total');
  });
});

describe('dev sign-in', () => {
  it('is refused when DEV_AUTH is not set', async () => {
    expect(await get('/api/dev')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await get('/api/dev/token?sub=alice&role=admin')).toMatchObject({ status: 404 });
  });

  it('issues a short-lived token when DEV_AUTH is on', async () => {
    const dev = await startHarness({ devAuth: true, library: h.config.library }, h.redis); // same limits: one Redis
    try {
      const res = await fetch(`${dev.gateway.url}/api/dev/token?sub=alice&role=admin`);
      const { token: issued } = (await res.json()) as { token: string };
      const me = await fetch(`${dev.gateway.url}/api/jobs`, {
        headers: { authorization: `Bearer ${issued}` },
      });
      expect(me.status).toBe(200);
      expect((await fetch(`${dev.gateway.url}/api/dev/token?sub=bad%20name`)).status).toBe(400);
    } finally {
      await dev.gateway.stop(1000);
    }
  });
});

describe('/api/jobs', () => {
  it('needs a valid token', async () => {
    expect(await get('/api/jobs')).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(await get('/api/jobs', 'bogus')).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized' } },
    });
  });

  it('lists a user’s own jobs newest first, pages with next, filters by status; an admin sees all', async () => {
    const user = `${h.redis.namespace()}user`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `${user}-${i}`;
      await createJob(redis, { id, owner: user, title: `job ${i}` });
      ids.push(id);
    }
    await createJob(redis, { id: `${user}-other`, owner: `${user}x`, title: 'not mine' });
    await setJobStatus(redis, ids[1]!, 'running');
    const first = (await get('/api/jobs?limit=3', token(user))).body as {
      jobs: { id: string }[];
      next: string;
    };
    expect(first.jobs.map((j) => j.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect(first.next).toEqual(expect.any(String));
    const second = (await get(`/api/jobs?limit=3&before=${encodeURIComponent(first.next)}`, token(user)))
      .body as {
      jobs: { id: string }[];
      next: string | null;
    };
    expect(second.jobs.map((j) => j.id)).toEqual([ids[1], ids[0]]);
    expect(second.next).toBeNull();
    const running = (await get('/api/jobs?status=running', token(user))).body as { jobs: { id: string }[] };
    expect(running.jobs.map((j) => j.id)).toEqual([ids[1]]);
    const all = (await get('/api/jobs?limit=200', token('root', 'admin'))).body as { jobs: { id: string }[] };
    expect(all.jobs.map((j) => j.id)).toEqual(expect.arrayContaining([...ids, `${user}-other`]));
  });

  it('treats parameters given empty as not given', async () => {
    const page = await get('/api/jobs?status=&limit=&before=', token('root', 'admin'));
    expect(page.status).toBe(200);
    expect((page.body as { jobs: unknown[] }).jobs.length).toBeGreaterThan(0);
  });

  it('refuses bad parameters with 400', async () => {
    for (const query of ['limit=0', 'limit=abc', 'limit=1000', 'status=paused', 'before=yesterday']) {
      expect(await get(`/api/jobs?${query}`, token('alice'))).toMatchObject({
        status: 400,
        body: { error: { code: 'bad_request' } },
      });
    }
  });

  it('drops index entries of jobs that have expired', async () => {
    const id = `${h.redis.namespace()}-gone`;
    await createJob(redis, { id, owner: 'ghost', title: 'gone' });
    await redis.del(`job:{${id}}`);
    const page = (await get('/api/jobs', token('ghost'))).body as { jobs: unknown[] };
    expect(page.jobs).toEqual([]);
    expect(await redis.zscore('jobs:owner:ghost', id)).toBeNull();
  });
});

describe('/api/jobs/:id and its output', () => {
  it('returns the job object, 404 for a missing job and for someone else’s, 400 for a bad id', async () => {
    const id = `${h.redis.namespace()}-one`;
    await createJob(redis, { id, owner: 'alice', title: 'one', fields: { branch: 'main' } });
    expect(await get(`/api/jobs/${id}`, token('alice'))).toMatchObject({
      status: 200,
      body: { id, owner: 'alice', title: 'one', status: 'queued', branch: 'main', lastSeq: 0 },
    });
    expect(await get(`/api/jobs/${id}`, token('bob'))).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect(await get('/api/jobs/nope', token('alice'))).toMatchObject({ status: 404 });
    expect(await get('/api/jobs/bad%20id', token('alice'))).toMatchObject({ status: 400 });
  });

  it('output?since=&limit= pages the list by seq; output.txt streams the text, also with ?access_token', async () => {
    const id = `${h.redis.namespace()}-out`;
    await createJob(redis, { id, owner: 'alice', title: 'out' });
    await setJobStatus(redis, id, 'running');
    await appendLines(
      redis,
      id,
      Array.from({ length: 150 }, (_, i) => ({ stream: 'stdout' as const, line: `line ${i + 1}` })),
    );
    const page = (await get(`/api/jobs/${id}/output?since=120&limit=10`, token('alice'))).body as {
      lines: { seq: number; line: string }[];
      lastSeq: number;
    };
    expect(page.lastSeq).toBe(150);
    expect(page.lines.map((l) => l.seq)).toEqual([121, 122, 123, 124, 125, 126, 127, 128, 129, 130]);
    // 100-line retention: since=0 starts at the first retained line
    const retained = (await get(`/api/jobs/${id}/output`, token('alice'))).body as {
      lines: { seq: number }[];
    };
    expect(retained.lines[0]!.seq).toBe(51);
    const emptyParams = (await get(`/api/jobs/${id}/output?since=&limit=`, token('alice'))).body as {
      lines: unknown[];
    };
    expect(emptyParams.lines).toHaveLength(100);
    expect(await get(`/api/jobs/${id}/output?limit=10001`, token('alice'))).toMatchObject({ status: 400 });
    const txt = await fetch(`${h.gateway.url}/api/jobs/${id}/output.txt?access_token=${token('alice')}`);
    expect(txt.status).toBe(200);
    expect(txt.headers.get('content-type')).toContain('text/plain');
    const text = await txt.text();
    expect(text.split('\n').slice(0, 2)).toEqual(['line 51', 'line 52']);
    expect(text.trimEnd().split('\n')).toHaveLength(100);
    expect((await get(`/api/jobs/${id}/output.txt?access_token=${token('bob')}`)).status).toBe(404);
    expect((await get(`/api/jobs/${id}/output?access_token=${token('alice')}`)).status).toBe(401);
  });
});

describe('POST /api/jobs/:id/cancel', () => {
  const post = async (path: string, bearer: string) => {
    const res = await fetch(`${h.gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('asks the runner to stop: 202 with the job, the same time again; 409 once ended; 404 for others', async () => {
    const id = `${h.redis.namespace()}-cancel`;
    await createJob(redis, { id, owner: 'alice', title: 'to cancel' });
    await setJobStatus(redis, id, 'running');

    expect((await post(`/api/jobs/${id}/cancel`, token('mallory'))).status).toBe(404); // not hers: hidden
    const first = await post(`/api/jobs/${id}/cancel`, token('alice'));
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ id, status: 'running', cancelRequestedBy: 'alice' });
    expect(typeof first.body.cancelRequestedAt).toBe('number');
    const again = await post(`/api/jobs/${id}/cancel`, token('root', 'admin'));
    expect(again.body.cancelRequestedAt).toBe(first.body.cancelRequestedAt); // the first request stands

    await setJobStatus(redis, id, 'cancelled');
    const late = await post(`/api/jobs/${id}/cancel`, token('alice'));
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'conflict' } });
  });
});
