import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { SearchResult } from '../../shared/http-api.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { httpGet, startHarness, token, type Harness, type HttpAnswer } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness({ library: { maxLines: 100, retentionS: 3600, eventsPublish: 'publish' } });
  redis = h.redis.client();
});
afterAll(() => h.stop());

const get = (path: string, bearer?: string): Promise<HttpAnswer> => httpGet(h.gateway.url, path, bearer);

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

  it('searches title, owner and branch with q= (case-insensitive), also across pages', async () => {
    const owner = `${h.redis.namespace()}Searcher`;
    await createJob(redis, { id: `${owner}-a`, owner, title: 'Deploy API', fields: { branch: 'main' } });
    await createJob(redis, {
      id: `${owner}-b`,
      owner,
      title: 'lint',
      fields: { branch: 'feature/DEPLOY-42' },
    });
    await createJob(redis, { id: `${owner}-c`, owner, title: 'tests', fields: { branch: 'main' } });
    const titles = async (query: string, bearer = token(owner)) =>
      ((await get(`/api/jobs?${query}`, bearer)).body as { jobs: { title: string }[] }).jobs.map(
        (j) => j.title,
      );
    expect(await titles('q=deploy')).toEqual(['lint', 'Deploy API']); // title and branch, newest first
    expect(await titles('q=MAIN')).toEqual(['tests', 'Deploy API']);
    expect(await titles(`q=${encodeURIComponent(owner.toLowerCase())}`, token('root', 'admin'))).toHaveLength(
      3,
    );
    expect(await titles('q=nothing-like-this')).toEqual([]);
    const first = (await get('/api/jobs?q=deploy&limit=1', token(owner))).body as { next: string };
    const rest = (
      await get(`/api/jobs?q=deploy&limit=1&before=${encodeURIComponent(first.next)}`, token(owner))
    ).body as { jobs: { title: string }[] };
    expect(rest.jobs.map((j) => j.title)).toEqual(['Deploy API']);
    expect((await get(`/api/jobs?q=${'x'.repeat(201)}`, token(owner))).status).toBe(400);
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

  it('says which parameter is wrong, and that one given twice is', async () => {
    const message = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${h.gateway.url}${path}`, {
        headers: { authorization: `Bearer ${token('alice')}`, ...headers },
      });
      expect(res.status).toBe(400);
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    const id = `${h.redis.namespace()}-params`;
    await createJob(redis, { id, owner: 'alice', title: 'params' });
    expect(await message('/api/jobs?limit=2&limit=3')).toBe('limit: given more than once');
    expect(await message(`/api/jobs/${id}/output?since=1&since=2`)).toBe('since: given more than once');
    expect(await message('/api/jobs/bad%20id')).toMatch(/^job id: job ids match/); // was ": job ids…"
    expect(await message(`/api/jobs/${id}/stream`, { 'last-event-id': 'seven' })).toMatch(/^Last-Event-ID: /);
    // Number() would read these as 16, 1000, 5 and 2: a typo silently asking for other lines.
    for (const [path, name] of [
      [`/api/jobs/${id}/output?since=0x10`, 'since'],
      ['/api/jobs?limit=1e3', 'limit'],
      [`/api/jobs/${id}/stream?tail=%205`, 'tail'],
      [`/api/jobs/${id}/output?before=2.0`, 'before'],
    ] as const)
      expect(await message(path)).toBe(`${name}: expected a whole number (digits only)`);
  });

  it('drops index entries of jobs that have expired', async () => {
    const id = `${h.redis.namespace()}-gone`;
    await createJob(redis, { id, owner: 'ghost', title: 'gone' });
    await redis.del(`job:{${id}}`);
    const page = (await get('/api/jobs', token('ghost'))).body as { jobs: unknown[] };
    expect(page.jobs).toEqual([]);
    expect(await redis.zscore('jobs:owner:ghost', id)).toBeNull();
  });

  it('never lists another owner’s job under a reused id, and drops the stale entry', async () => {
    const id = `${h.redis.namespace()}-reused`;
    await createJob(redis, { id, owner: 'carol', title: 'carol’s, expired' });
    await redis.del(`job:{${id}}`); // expired; carol's index entry is still there
    await createJob(redis, {
      id,
      owner: 'dave',
      title: 'dave’s private title',
      fields: { branch: 'secret' },
    });
    const carol = (await get('/api/jobs', token('carol'))).body as { jobs: { id: string }[] };
    expect(carol.jobs).toEqual([]);
    expect(await redis.zscore('jobs:owner:carol', id)).toBeNull();
    const dave = (await get('/api/jobs', token('dave'))).body as { jobs: { id: string; owner: string }[] };
    expect(dave.jobs.map((j) => [j.id, j.owner])).toEqual([[id, 'dave']]);
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
    const txt = await fetch(`${h.gateway.url}/api/jobs/${id}/output.txt`, {
      headers: { authorization: `Bearer ${token('alice')}` },
    });
    expect(txt.status).toBe(200);
    expect(txt.headers.get('content-type')).toContain('text/plain');
    const text = await txt.text();
    // The trimmed head is said where it was (http-output.test.ts), then the retained lines.
    expect(text.split('\n').slice(1, 3)).toEqual(['line 51', 'line 52']);
    expect(text.trimEnd().split('\n')).toHaveLength(101);
    expect((await get(`/api/jobs/${id}/output.txt`, token('bob'))).status).toBe(404);
    // A sign-in token in a URL is refused, on every route.
    expect((await get(`/api/jobs/${id}/output.txt?access_token=${token('alice')}`)).status).toBe(401);
    expect((await get(`/api/jobs/${id}/output?access_token=${token('alice')}`)).status).toBe(401);
  });
});

describe('GET /api/jobs/:id/search', () => {
  it('finds every retained match, ANSI codes ignored, case-insensitive, oldest first, with a total', async () => {
    const id = `${h.redis.namespace()}-search`;
    await createJob(redis, { id, owner: 'alice', title: 'search' });
    const lines = Array.from({ length: 100 }, (_, i) =>
      i % 10 === 3 ? `step ${i}: \u001b[31mERR\u001b[0mor here` : `step ${i}: fine`,
    );
    await appendLines(
      redis,
      id,
      lines.map((line) => ({ stream: 'stdout' as const, line })),
    );
    type Result = SearchResult;
    const all = (await get(`/api/jobs/${id}/search?q=error`, token('alice'))).body as Result;
    expect(all.total).toBe(10);
    expect(all.truncated).toBe(false);
    expect(all.matches.map((m) => m.seq)).toEqual([4, 14, 24, 34, 44, 54, 64, 74, 84, 94]);
    expect(all.matches[0]!.line).toBe(lines[3]); // as stored, codes and all
    const some = (await get(`/api/jobs/${id}/search?q=ERROR%20HERE&limit=3`, token('alice'))).body as Result;
    expect(some).toMatchObject({ total: 10, truncated: true });
    expect(some.matches.map((m) => m.seq)).toEqual([4, 14, 24]);
    // The escape codes themselves are not text.
    expect(((await get(`/api/jobs/${id}/search?q=%5B31m`, token('alice'))).body as Result).total).toBe(0);
    expect((await get(`/api/jobs/${id}/search?q=error`, token('bob'))).status).toBe(404);
    for (const query of ['', 'q=', 'q=a&limit=0', 'q=a&limit=10001']) {
      expect((await get(`/api/jobs/${id}/search?${query}`, token('alice'))).status).toBe(400);
    }
  });
});

describe('POST /api/jobs/:id/download-token', () => {
  const post = async (path: string, bearer: string) => {
    const res = await fetch(`${h.gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}` },
    });
    return { status: res.status, body: (await res.json()) as { url: string } };
  };

  it('gives a 60 s link for that one job and caller, ANSI stripped unless ansi=keep; never a sign-in', async () => {
    const id = `${h.redis.namespace()}-dl`;
    const other = `${h.redis.namespace()}-dl-other`;
    await createJob(redis, { id, owner: 'alice', title: 'download' });
    await createJob(redis, { id: other, owner: 'alice', title: 'other' });
    await appendLines(redis, id, [
      { stream: 'stdout', line: '\u001b[1;32mgreen\u001b[0m and plain' },
      { stream: 'stderr', line: 'second' },
    ]);
    expect((await post(`/api/jobs/${id}/download-token`, token('bob'))).status).toBe(404);
    const { status, body } = await post(`/api/jobs/${id}/download-token`, token('alice'));
    expect(status).toBe(200);
    expect(body.url).toMatch(new RegExp(`^/api/jobs/${id}/output\\.txt\\?access_token=[A-Za-z0-9_-]+$`));
    const plain = await get(body.url);
    expect(plain.status).toBe(200);
    expect(plain.text).toBe('green and plain\nsecond\n');
    expect((await get(`${body.url}&ansi=keep`)).text).toBe('\u001b[1;32mgreen\u001b[0m and plain\nsecond\n');
    expect((await get(`${body.url}&ansi=maybe`)).status).toBe(400);

    const downloadToken = new URL(body.url, h.gateway.url).searchParams.get('access_token')!;
    expect(await redis.ttl(`job:{${id}}:download:${downloadToken}`)).toBeGreaterThan(50);
    // Bound to its job, and it signs nobody in.
    expect((await get(`/api/jobs/${other}/output.txt?access_token=${downloadToken}`)).status).toBe(401);
    expect((await get(`/api/jobs/${id}`, downloadToken)).status).toBe(401);
    expect((await get(`/api/jobs/${id}/output.txt?access_token=nope`)).body).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringContaining('download-token') },
    });
    await redis.del(`job:{${id}}:download:${downloadToken}`); // what 60 s do
    expect((await get(body.url)).status).toBe(401);
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
