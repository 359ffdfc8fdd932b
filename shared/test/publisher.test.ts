import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { eventsChannel, outputKey } from '../keys.js';
import type { OutputLine } from '../protocol.js';
import { JobPublisher } from '../runner/publisher.js';
import { getJob } from '../redis/functions.js';
import { collectMessages } from '../testing/pubsub.js';
import { storedLines } from '../testing/output.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';

let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = await PrivateRedis.start({ aof: true });
  redis = server.client();
});
afterAll(() => server.stop());

const stored = (id: string): Promise<OutputLine[]> => storedLines(redis, id);

const newId = (): string => `${server.namespace()}-pub`;

describe('JobPublisher', () => {
  it('batches many lines into few calls, in order, and flushes on close', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(redis, { id, owner: 'alice', title: 'batch' });
    await publisher.start();
    const events = await collectMessages(server, eventsChannel(id));
    const count = 5000;
    for (let i = 1; i <= count; i++) publisher.write(i % 7 === 0 ? 'stderr' : 'stdout', `line ${i}`);
    await publisher.close();
    const lines = await stored(id);
    expect(lines.map((l) => l.line)).toEqual(Array.from({ length: count }, (_, i) => `line ${i + 1}`));
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(lines.filter((l) => l.stream === 'stderr')).toHaveLength(Math.floor(count / 7));
    // every frame is one FCALL: 5,000 lines with a 1,000-line cap is 5 to a handful of calls
    let published = 0;
    let frames = 0;
    while (published < count) {
      const [frame] = await events.next(1);
      published += (JSON.parse(frame!) as { lines: unknown[] }).lines.length;
      frames++;
    }
    await events.close();
    expect(frames).toBeLessThanOrEqual(10);
  });

  it('lingers briefly so that a trickle of lines still arrives promptly', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(
      redis,
      { id, owner: 'alice', title: 'linger' },
      { lingerMs: 10 },
    );
    const events = await collectMessages(server, eventsChannel(id));
    publisher.stdout('only line');
    const [frame] = await events.next(1, 1000);
    expect(JSON.parse(frame!)).toMatchObject({ lines: [{ seq: 1, line: 'only line' }] });
    await events.close();
    await publisher.close();
  });

  it('finish, cancel and metadata go out after every line written before them', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(redis, { id, owner: 'bob', title: 'meta' });
    await publisher.start({ branch: 'feat/a' });
    publisher.stdout('a');
    publisher.stdout('b');
    await publisher.update({ linesAdded: 12, linesRemoved: 4, mrUrl: 'https://git.example/mr/1' });
    publisher.stdout('c');
    await publisher.finish(3);
    await publisher.close();
    const job = await getJob(redis, id);
    expect(job).toMatchObject({
      status: 'failed',
      exitCode: 3,
      errorMessage: 'exit code 3',
      branch: 'feat/a',
      linesAdded: 12,
      linesRemoved: 4,
      lastSeq: 3,
    });
    expect((await stored(id)).map((l) => l.line)).toEqual(['a', 'b', 'c']);
  });

  it('refuses lines after the job ended and reports them', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(redis, { id, owner: 'bob', title: 'late' });
    await publisher.cancel('stopped by test');
    const refused: number[] = [];
    publisher.on('refused', (_error, lines) => refused.push(lines));
    publisher.stdout('too late');
    await publisher.close();
    expect(refused).toEqual([1]);
    expect(publisher.droppedLines).toBe(1);
    expect(await redis.llen(outputKey(id))).toBe(0);
    expect((await getJob(redis, id))?.status).toBe('cancelled');
  });

  it('keeps lines while Redis is down, appends each exactly once after it returns', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(
      redis,
      { id, owner: 'alice', title: 'outage' },
      { retryMaxMs: 200 },
    );
    await publisher.start();
    for (let i = 1; i <= 100; i++) publisher.stdout(`before ${i}`);
    await publisher.flush();
    const retried = new Promise((resolve) => publisher.once('retry', resolve));
    await server.kill();
    for (let i = 1; i <= 100; i++) publisher.stdout(`during ${i}`);
    await retried; // the publisher noticed the outage
    await server.restart(); // AOF: the first 100 lines survive
    for (let i = 1; i <= 100; i++) publisher.stdout(`after ${i}`);
    await publisher.finish(0);
    await publisher.close();
    const check = server.client();
    const lines = await storedLines(check, id);
    const expected = ['before', 'during', 'after'].flatMap((p) =>
      Array.from({ length: 100 }, (_, i) => `${p} ${i + 1}`),
    );
    expect(lines.map((l) => l.line)).toEqual(expected);
    expect(lines.map((l) => l.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(publisher.droppedLines).toBe(0);
    expect((await getJob(check, id))?.status).toBe('success');
  }, 20_000);

  it('keeps every line past its memory window in the spool while Redis is down, and sends them in order', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(
      redis,
      { id, owner: 'alice', title: 'spooled' },
      { retryMaxMs: 100, maxBufferedLines: 160 },
    );
    await publisher.start();
    const retried = new Promise((resolve) => publisher.once('retry', resolve));
    await server.kill();
    publisher.stdout('first');
    await retried;
    const drops: number[] = [];
    publisher.on('drop', (n) => drops.push(n));
    let refusedWrites = 0;
    for (let i = 1; i <= 4000; i++)
      if (!publisher.write(i % 3 === 0 ? 'stderr' : 'stdout', `line ${i}`)) refusedWrites++;
    expect(publisher.spooledLines).toBeGreaterThan(3000); // past the window: on disk, not dropped
    expect(refusedWrites).toBeGreaterThan(3000); // write() says the window is full (backpressure)
    const drained = new Promise<void>((resolve) => publisher.once('drain', resolve));
    await server.restart();
    await drained;
    await publisher.close();
    const lines = await storedLines(server.client(), id);
    expect(drops).toEqual([]);
    expect(publisher.droppedLines).toBe(0);
    expect(lines.map((l) => l.line)).toEqual([
      'first',
      ...Array.from({ length: 4000 }, (_, i) => `line ${i + 1}`),
    ]);
    expect(lines.filter((l) => l.stream === 'stderr')).toHaveLength(1333);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
  }, 20_000);

  it('drops only when the spool is full too, and the job says where, how many and why', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(
      redis,
      { id, owner: 'alice', title: 'overflow' },
      { retryMaxMs: 100, maxBufferedLines: 100, spoolMaxBytes: 100 * 13 }, // 100 records of 'line NNN'
    );
    await publisher.start();
    const retried = new Promise((resolve) => publisher.once('retry', resolve));
    await server.kill();
    publisher.stdout('first');
    await retried;
    const drops: string[] = [];
    publisher.on('drop', (n, reason) => drops.push(`${n} ${reason}`));
    for (let i = 1; i <= 400; i++) publisher.stdout(`line ${String(i).padStart(3, '0')}`);
    const drained = new Promise<void>((resolve) => publisher.once('drain', resolve));
    await server.restart();
    await drained;
    publisher.stdout('after');
    await publisher.close();
    const lines = await storedLines(server.client(), id);
    const dropped = publisher.droppedLines;
    expect(drops).toHaveLength(dropped);
    expect(new Set(drops)).toEqual(new Set(['1 unreachable']));
    // the window (100 lines) and the spool (100 records) kept the oldest; the rest were dropped
    expect(dropped).toBeGreaterThanOrEqual(150);
    expect(dropped).toBeLessThanOrEqual(250);
    const kept = Array.from({ length: 400 - dropped }, (_, i) => `line ${String(i + 1).padStart(3, '0')}`);
    expect(lines.map((l) => l.line)).toEqual([
      'first',
      ...kept,
      `[jobstream] ${dropped} lines were dropped here: the runner's spool (1 KiB) was full while Redis was unreachable`,
      'after',
    ]);
    expect(lines.at(-2)?.stream).toBe('stderr');
  }, 20_000);

  /**
   * What a promoted replica looks like to the publisher: the owner of the job's slot now ends
   * `behind` lines before what the old primary acknowledged. Emulated on one server (the seq and
   * the list set back, the publisher's connection dropped) so the case is exact and repeatable;
   * gateway/test/failover.test.ts does it for real with kill -9 on a Redis Cluster.
   */
  async function loseAcknowledgedLines(id: string, behind: number): Promise<void> {
    await redis.hincrby(`job:{${id}}`, 'seq', -behind);
    await redis.rpop(outputKey(id), behind);
    await redis.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  }

  it('after a failover that lost acknowledged lines, appends them again at the same seqs', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(redis, { id, owner: 'alice', title: 'failover' });
    await publisher.start();
    for (let i = 1; i <= 100; i++) publisher.stdout(`before ${i}`);
    await publisher.flush();
    await loseAcknowledgedLines(id, 10);
    for (let i = 1; i <= 50; i++) publisher.stdout(`after ${i}`);
    await publisher.finish(0);
    await publisher.close();
    const lines = await stored(id);
    const expected = [
      ...Array.from({ length: 100 }, (_, i) => `before ${i + 1}`),
      ...Array.from({ length: 50 }, (_, i) => `after ${i + 1}`),
    ];
    expect(lines.map((l) => l.line)).toEqual(expected);
    expect(lines.map((l) => l.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(await getJob(redis, id)).toMatchObject({ status: 'success', lastSeq: 150 });
  }, 20_000);

  it('rebuilds lost lines before finishing even when nothing else is written', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(redis, { id, owner: 'alice', title: 'quiet failover' });
    await publisher.start();
    for (let i = 1; i <= 20; i++) publisher.stdout(`line ${i}`);
    await publisher.flush();
    await loseAcknowledgedLines(id, 5);
    // Whether or not the publisher has seen its connection drop yet, the status must come after
    // the rebuilt lines.
    await publisher.finish(0);
    await publisher.close();
    expect((await stored(id)).map((l) => l.line)).toEqual(
      Array.from({ length: 20 }, (_, i) => `line ${i + 1}`),
    );
  }, 20_000);

  it('says in the job which lines a failover lost when they are older than its window', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(
      redis,
      { id, owner: 'alice', title: 'big loss' },
      { ackedWindowLines: 5, lingerMs: 0 },
    );
    const lost: [number, number][] = [];
    publisher.on('lost', (from, to) => lost.push([from, to]));
    await publisher.start();
    for (let i = 1; i <= 30; i++) publisher.stdout(`line ${i}`);
    await publisher.flush();
    await loseAcknowledgedLines(id, 10);
    publisher.stdout('after');
    await publisher.finish(0);
    await publisher.close();
    expect(lost).toEqual([[21, 30]]);
    const lines = await stored(id);
    expect(lines.map((l) => l.line).slice(19)).toEqual([
      'line 20',
      '[jobstream] lines 21–30 were lost in a Redis failover',
      'after',
    ]);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
  }, 20_000);

  it('loads the library again when the node lost it (no gateway around to do it), losing nothing', async () => {
    const id = newId();
    const publisher = await JobPublisher.create(
      redis,
      { id, owner: 'alice', title: 'lost library' },
      { retryMaxMs: 50 },
    );
    await publisher.start();
    for (let i = 1; i <= 10; i++) publisher.stdout(`before ${i}`);
    await publisher.flush();
    await redis.call('FUNCTION', 'FLUSH'); // what a restart without persistence, or a bare replica, looks like
    for (let i = 1; i <= 10; i++) publisher.stdout(`after ${i}`);
    await publisher.finish(0);
    await publisher.close();
    const lines = (await stored(id)).map((l) => l.line);
    expect(lines).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `before ${i + 1}`),
      ...Array.from({ length: 10 }, (_, i) => `after ${i + 1}`),
    ]);
    expect(publisher.droppedLines).toBe(0);
    expect((await getJob(redis, id))?.status).toBe('success');
  }, 20_000);
});
