/**
 * The archive read back seamlessly (docs/architecture.md "Archive"): a job of several times
 * JOBSTREAM_MAX_LINES read whole over WebSocket and HTTP, from the first line, after Redis let
 * its list go; and subscriptions whose replay crosses the archive→Redis seam while the job keeps
 * writing, each getting exactly its range. Before the archive, the head of a long log was
 * trimmed for good (`gap` `trimmed`) and every log was gone after its retention.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DoneFrame, StatusFrame } from '../../shared/protocol.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { seededRandom, testSeed } from '../../shared/testing/seeded-random.js';
import { TOPOLOGIES } from '../../scripts/lib/stack.js';
import { eventually, httpGet, range, TestClient, writeInRandomBatches } from './harness.js';
import {
  archivedWhole,
  MAX_LINES,
  readOverHttp,
  readOverWebSocket,
  startArchiveStack,
  writeJob,
  type ArchiveStack,
} from './archive-harness.js';

const topologies = TOPOLOGIES.filter((t) => t !== 'haproxy-cluster');

describe.each(topologies)('on %s', (topology) => {
  let s: ArchiveStack;
  let redis: RedisConnection;
  beforeAll(async () => {
    s = await startArchiveStack({ topology });
    redis = s.client();
  }, 60_000);
  afterAll(() => s.stop());

  it('a job of 3× JOBSTREAM_MAX_LINES reads whole from line 1 over WebSocket and HTTP, with its list gone', async () => {
    const id = `${s.namespace()}-long`;
    const total = 3 * MAX_LINES + 17;
    await writeJob(redis, id, total);
    await archivedWhole(redis, id);
    await redis.del(`job:{${id}}:output`); // the hot retention passed: Redis holds the hash only

    const ws = await readOverWebSocket(s.url, s.token('alice'), id);
    expect(ws.gaps).toEqual([]);
    expect(ws.seqs).toEqual(range(1, total));
    expect(ws.frames.at(-1)).toMatchObject({ type: 'done', lastSeq: total });

    const since = await readOverWebSocket(s.url, s.token('alice'), id, { since: 123 });
    expect(since.seqs).toEqual(range(124, total));
    const tail = await readOverWebSocket(s.url, s.token('alice'), id, { tail: 450 });
    expect(tail.seqs).toEqual(range(total - 449, total));

    expect(await readOverHttp(s.url, s.token('alice'), id)).toEqual(range(1, total).map((n) => `line ${n}`));
    const back = await httpGet(s.url, `/api/jobs/${id}/output?before=151&limit=100`, s.token('alice'));
    expect((back.body as { lines: { seq: number }[] }).lines.map((l) => l.seq)).toEqual(range(51, 150));
    const search = await httpGet(s.url, `/api/jobs/${id}/search?q=line%207`, s.token('alice'));
    expect((search.body as { matches: { seq: number }[] }).matches[0]).toMatchObject({ seq: 7 });
    const download = await httpGet(s.url, `/api/jobs/${id}/output.txt`, s.token('alice'));
    expect(download.text).toBe(
      range(1, total)
        .map((n) => `line ${n}\n`)
        .join(''),
    );

    // Redis keeps the job, not its log: the hash and the archive index.
    const bytes =
      Number(await redis.call('MEMORY', 'USAGE', `job:{${id}}`)) +
      Number(await redis.call('MEMORY', 'USAGE', `job:{${id}}:archive`));
    expect(bytes).toBeLessThan(2048);
  }, 60_000);

  it('a running job is archived chunk by chunk: its list goes back to the cap and its head is kept', async () => {
    const id = `${s.namespace()}-running`;
    const total = 5 * MAX_LINES;
    await writeJob(redis, id, total, { finish: false, batch: 20 });
    // Whatever the archiver has not stored yet is still in the list (it may have stored some already).
    const [held, archivedSoFar] = [
      await redis.llen(`job:{${id}}:output`),
      await redis.hget(`job:{${id}}`, 'archivedSeq'),
    ];
    expect(held).toBeGreaterThanOrEqual(total - Number(archivedSoFar ?? 0));
    // Another running job at once, on another Cluster shard most likely: both are archived.
    const other = `${s.namespace()}-running-too`;
    await writeJob(redis, other, 2 * MAX_LINES, { finish: false, batch: 100 });
    await eventually(
      async () =>
        Number(await redis.hget(`job:{${id}}`, 'archivedSeq')) === total &&
        Number(await redis.hget(`job:{${other}}`, 'archivedSeq')) === 2 * MAX_LINES,
      20_000,
      'chunks',
    );
    await appendLines(redis, id, [{ stream: 'stdout', line: `line ${total + 1}` }]);
    expect(await redis.llen(`job:{${id}}:output`)).toBe(MAX_LINES); // archived lines trimmed

    const client = await TestClient.connect(s.url, { token: s.token('alice') });
    client.send({ type: 'subscribe', jobId: id });
    await client.waitFor((f) => f.type === 'output' && f.lines.some((l) => l.seq === total + 1));
    await setJobStatus(redis, id, 'success');
    await client.waitFor((f) => f.type === 'done');
    expect(client.framesFor(id).filter((f) => f.type === 'gap')).toEqual([]);
    expect(client.seqs(id)).toEqual(range(1, total + 1));
    client.close();
  }, 30_000);

  it('subscriptions at random moments and positions cross the archive→Redis seam under fire, each getting exactly its range', async () => {
    const random = seededRandom(testSeed('ARCHIVE_SWITCH_SEED', 'archive seam under fire'));
    const id = `${s.namespace()}-fire`;
    const total = 3000;
    await createJob(redis, { id, owner: 'alice', title: 'under fire' });
    await setJobStatus(redis, id, 'running');
    // The archiver and the readers get turns between batches.
    const writer = writeInRandomBatches(redis, id, { total, random });
    const subscribers = Array.from({ length: 24 }, async (_, i) => {
      await sleep(random() * 1500);
      const client = await TestClient.connect(s.url, { token: s.token('alice') });
      const position = Math.floor(random() * Math.max(1, writer.written()));
      const request = i % 3 === 0 ? {} : i % 3 === 1 ? { since: position } : { tail: 1 + position };
      client.send({ type: 'subscribe', jobId: id, ...request });
      const status = await client.waitFor<StatusFrame>((f) => f.type === 'status');
      const done = await client.waitFor<DoneFrame>((f) => f.type === 'done', 30_000);
      expect(done.lastSeq).toBe(total);
      const start =
        i % 3 === 0 ? 1 : i % 3 === 1 ? position + 1 : Math.max(1, status.job.lastSeq - (1 + position) + 1);
      // Nothing is lost to a trim: every line below the list's head is in the archive.
      expect(client.framesFor(id).filter((f) => f.type === 'gap' || f.type === 'error')).toEqual([]);
      expect(client.seqs(id)).toEqual(range(start, total));
      client.close();
    });
    await Promise.all([writer.done, ...subscribers]);
    expect(Number(await redis.hget(`job:{${id}}`, 'archivedSeq'))).toBeGreaterThan(MAX_LINES);
  }, 60_000);
});
