/**
 * The function library's loading, its error contract, jobstream_progress, and the gateway's own
 * calls (lease, read). jobstream_create, _append and _status are library-runner.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { FUNCTION_ERROR_CODES } from '../errors.js';
import { eventsChannel, jobKey, outputKey } from '../keys.js';
import {
  appendLines,
  createJob,
  getJob,
  publishProgress,
  releaseLease,
  renewLease,
  setJobStatus,
} from '../redis/functions.js';
import {
  DEFAULT_LIBRARY_CONFIG,
  ensureLibrary,
  LIBRARY_VERSION,
  loadedLibrary,
  LUA_TEMPLATE,
} from '../redis/library.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { expectCode } from '../testing/function-errors.js';
import { collectMessages } from '../testing/pubsub.js';
import { MAX_LINES, newTestJob, RETENTION_S, startLibraryServer } from './library-server.js';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  ({ server, redis } = await startLibraryServer());
});
afterAll(() => server.stop());

const newJob = (owner?: string): Promise<string> => newTestJob(server, redis, owner);

describe('the error contract', () => {
  it('the Lua library and the TypeScript side know the same error codes, every one', () => {
    const fromLua = new Set([...LUA_TEMPLATE.matchAll(/fail\('([A-Z_]+)'/g)].map((m) => m[1]));
    expect([...fromLua].sort()).toEqual([...FUNCTION_ERROR_CODES].sort());
  });
});

describe('library loading', () => {
  it('reports the configuration it was loaded with', async () => {
    expect(await loadedLibrary(redis)).toEqual({
      version: LIBRARY_VERSION,
      maxLines: MAX_LINES,
      retentionS: RETENTION_S,
      eventsPublish: 'publish',
      archive: null,
    });
  });

  it('a publisher never replaces the gateway configuration', async () => {
    const loaded = await ensureLibrary(redis, { ...DEFAULT_LIBRARY_CONFIG, maxLines: 7 });
    expect(loaded.maxLines).toBe(MAX_LINES);
  });

  it('a publisher loads the library with defaults when none is loaded', async () => {
    const other = await PrivateRedis.start();
    try {
      const client = other.client();
      expect(await loadedLibrary(client)).toBeNull();
      expect((await ensureLibrary(client)).maxLines).toBe(DEFAULT_LIBRARY_CONFIG.maxLines);
    } finally {
      await other.stop();
    }
  });
});

describe('jobstream_lease_renew and jobstream_lease_release', () => {
  it('take a free lease, extend only their own, and free only their own', async () => {
    const key = `${server.namespace()}:lease`;
    expect(await renewLease(redis, key, 'gw-a', 60_000)).toBe(true); // free: taken
    expect(await renewLease(redis, key, 'gw-b', 60_000)).toBe(false); // another's: left alone
    expect(await redis.get(key)).toBe('gw-a');
    await redis.pexpire(key, 50);
    expect(await renewLease(redis, key, 'gw-a', 60_000)).toBe(true); // its own: extended
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);
    await releaseLease(redis, key, 'gw-b'); // not its lease: nothing happens
    expect(await redis.get(key)).toBe('gw-a');
    await releaseLease(redis, key, 'gw-a');
    expect(await redis.exists(key)).toBe(0);
    await expectCode(redis.fcall('jobstream_lease_renew', 1, key, 'gw-a', 'soon'), 'BAD_ARGUMENTS');
  });
});

describe('jobstream_read', () => {
  it('pages by seq within maxBytes: the longest prefix that fits, at least one entry, for any mix of sizes', async () => {
    const id = `${server.namespace()}-read`;
    await createJob(redis, { id, owner: 'alice', title: 'read' });
    // 40 lines (MAX_LINES is 50) of sizes that vary, so batches sized from an average misjudge.
    const sizes = Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? 3000 : 10 + i * 13));
    await appendLines(
      redis,
      id,
      sizes.map((n) => ({ stream: 'stdout' as const, line: 'z'.repeat(n) })),
    );
    const stored = await redis.lrange(outputKey(id), 0, -1);
    for (const maxBytes of [1, 200, 1000, 3500, 8000, 1_000_000]) {
      for (const from of [1, 5, 20, 39]) {
        const [lastSeq, start, entries] = (await redis.fcall(
          'jobstream_read',
          2,
          jobKey(id),
          outputKey(id),
          from,
          30,
          40,
          maxBytes,
        )) as [number, number, string[]];
        let expected = 0;
        let bytes = 0;
        for (const entry of stored.slice(from - 1, Math.min(from - 1 + 30, 40))) {
          bytes += Buffer.byteLength(entry);
          if (bytes > maxBytes && expected > 0) break;
          expected++;
        }
        expect([lastSeq, start]).toEqual([40, from]);
        expect(entries).toEqual(stored.slice(from - 1, from - 1 + expected));
      }
    }
  });
});

describe('jobstream_progress', () => {
  it("publishes the open line stamped with the job's seq, stores nothing, and is refused after the end", async () => {
    const id = await newJob();
    await appendLines(redis, id, [{ stream: 'stdout', line: 'Downloading' }]);
    const events = await collectMessages(server, eventsChannel(id));
    expect(await publishProgress(redis, id, 'stderr', 'Downloading  42% \u001b[32m###\u001b[0m')).toBe(1);
    const [frame] = await events.next(1);
    await events.close();
    expect(JSON.parse(frame!)).toEqual({
      type: 'progress',
      jobId: id,
      afterSeq: 1,
      stream: 'stderr',
      line: 'Downloading  42% \u001b[32m###\u001b[0m',
    });
    expect(await redis.llen(outputKey(id))).toBe(1);
    expect((await getJob(redis, id))?.lastSeq).toBe(1);
    await expectCode(publishProgress(redis, id, 'stdlog' as 'stdout', 'x'), 'BAD_STREAM');
    await expectCode(publishProgress(redis, 'nope', 'stdout', 'x'), 'NOT_FOUND');
    await setJobStatus(redis, id, 'success');
    await expectCode(publishProgress(redis, id, 'stdout', '100%'), 'JOB_FINISHED');
  });

  it('cuts the text to 16 KiB and makes it valid UTF-8, as for a line', async () => {
    const id = await newJob();
    const events = await collectMessages(server, eventsChannel(id));
    await redis.fcall(
      'jobstream_progress',
      2,
      jobKey(id),
      outputKey(id),
      'stdout',
      Buffer.from([0x61, 0xff, 0x62]),
    );
    await publishProgress(redis, id, 'stdout', 'é'.repeat(20_000));
    const [bad, long] = (await events.next(2)).map((f) => JSON.parse(f) as { line: string });
    await events.close();
    expect(bad?.line).toBe('a\ufffdb');
    expect(Buffer.byteLength(long!.line)).toBeLessThanOrEqual(16 * 1024 + 64);
    expect(long!.line.startsWith('é'.repeat(100))).toBe(true);
  });
});
