/**
 * The archive's figures (docs/benchmarks.md "Archive"): what a finished, archived 100,000-line
 * job costs in Redis and in the archive against what its list cost; its replay (subscribe →
 * `done`) from the archive, cold (chunks not yet read by this gateway process, which first replayed
 * another job, as the Redis baseline's process had) and warm (its chunks cached), against the same
 * replay from Redis; and the gateway
 * CPU that archiving takes at a steady ingest, against the same gateway without an archive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { jobKey, outputKey } from '../../shared/keys.js';
import { median, progress, round } from './progress.js';
import { replayOnce } from './replay-scenario.js';
import { BenchServer, tokenOf } from './servers.js';

export interface ArchiveMeasurement {
  lines: number;
  listBytes: number;
  archivedRedisBytes: number;
  archiveBytes: number;
  replayRedisMs: number[];
  replayArchiveColdMs: number[];
  replayArchiveWarmMs: number[];
  ingestLinesPerSecond: number;
  cpuPlainCores: number[];
  cpuArchiveCores: number[];
}

/** A line of about 100 characters: a stored entry of about 155 bytes, as measured in the design. */
const lineText = (n: number): string =>
  `2026-12-06T05:00:00.000Z [build] step ${n}: compiling src/module-${n % 700}/index.ts … ok (${n % 97} ms)`;

async function writeFinishedJob(redis: Redis, id: string, lines: number): Promise<void> {
  await createJob(redis, { id, owner: 'bench', title: 'archived log' });
  await setJobStatus(redis, id, 'running');
  for (let i = 0; i < lines; i += 1000)
    await appendLines(
      redis,
      id,
      Array.from({ length: Math.min(1000, lines - i) }, (_, k) => ({
        stream: 'stdout' as const,
        line: lineText(i + k),
      })),
    );
  await setJobStatus(redis, id, 'success');
}

const memoryUsage = async (redis: Redis, key: string): Promise<number> =>
  Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Steady ingest of `rate` lines/s over `jobs` running jobs for `seconds`; the gateway's CPU in cores. */
async function ingestCpu(
  server: BenchServer,
  redis: Redis,
  rate: number,
  seconds: number,
  tag: string,
): Promise<number> {
  const jobs = Array.from({ length: 10 }, (_, i) => `ingest-${tag}-${Date.now()}-${i}`);
  for (const id of jobs) {
    await createJob(redis, { id, owner: 'bench', title: 'ingest' });
    await setJobStatus(redis, id, 'running');
  }
  const batch = 100;
  const intervalMs = (1000 * batch * jobs.length) / rate;
  const cpuBefore = server.cpuSeconds();
  const started = performance.now();
  let seq = 0;
  for (let tick = 0; performance.now() - started < seconds * 1000; tick++) {
    await Promise.all(
      jobs.map((id) =>
        appendLines(
          redis,
          id,
          Array.from({ length: batch }, (_, k) => ({ stream: 'stdout' as const, line: lineText(seq + k) })),
        ),
      ),
    );
    seq += batch;
    const wait = started + (tick + 1) * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const elapsed = (performance.now() - started) / 1000;
  const cores = (server.cpuSeconds() - cpuBefore) / elapsed;
  for (const id of jobs) await setJobStatus(redis, id, 'success');
  return cores;
}

export async function archiveScenario(
  redis: Redis,
  redisUrl: string,
  o: { lines: number; runs: number; ingestRate: number; seconds: number },
): Promise<ArchiveMeasurement> {
  const dir = mkdtempSync(join(tmpdir(), 'jobstream-bench-archive-'));
  const archived = {
    JOBSTREAM_ARCHIVE_URL: `file://${dir}`,
    JOBSTREAM_HOT_RETENTION_S: '1',
    JOBSTREAM_ARCHIVE_DELAY_S: '0',
  };
  try {
    progress(`archive · Redis replay baseline, ${o.lines} lines`);
    const plainId = `archive-plain-${Date.now()}`;
    const plain = await BenchServer.start('gateway', redisUrl);
    const replayRedisMs: number[] = [];
    const cpuPlainCores: number[] = [];
    try {
      await writeFinishedJob(redis, plainId, o.lines);
      for (let run = 0; run < o.runs; run++)
        replayRedisMs.push(await replayOnce(plain.url, tokenOf(0), plainId, o.lines));
      progress(`archive · ingest ${o.ingestRate} lines/s without an archive`);
      for (let run = 0; run < o.runs; run++)
        cpuPlainCores.push(await ingestCpu(plain, redis, o.ingestRate, o.seconds, 'plain'));
    } finally {
      await plain.stop();
    }
    const listBytes = await memoryUsage(redis, outputKey(plainId));
    await redis.del(outputKey(plainId), jobKey(plainId));

    progress(`archive · archiving a ${o.lines}-line job`);
    const id = `archive-${Date.now()}`;
    const warmUpId = `${id}-warm-up`; // replayed first by each fresh gateway: "cold" is the chunks only
    let server = await BenchServer.start('gateway', redisUrl, archived);
    const cpuArchiveCores: number[] = [];
    try {
      await writeFinishedJob(redis, id, o.lines);
      await writeFinishedJob(redis, warmUpId, o.lines);
      for (const job of [id, warmUpId])
        await until(
          'the job archived and its list let go',
          async () => (await redis.exists(outputKey(job))) === 0,
        );
      progress(`archive · ingest ${o.ingestRate} lines/s with an archive`);
      for (let run = 0; run < o.runs; run++)
        cpuArchiveCores.push(await ingestCpu(server, redis, o.ingestRate, o.seconds, 'archive'));
    } finally {
      await server.stop();
    }
    const archivedRedisBytes =
      (await memoryUsage(redis, jobKey(id))) + (await memoryUsage(redis, `job:{${id}}:archive`));
    const index = await redis.hgetall(`job:{${id}}:archive`);
    const archiveBytes = Object.values(index).reduce(
      (sum, value) => sum + Number(value.split(' ')[1] ?? 0),
      0,
    );

    progress('archive · replay from the archive, cold (a fresh gateway) and warm');
    const replayArchiveColdMs: number[] = [];
    const replayArchiveWarmMs: number[] = [];
    for (let run = 0; run < o.runs; run++) {
      server = await BenchServer.start('gateway', redisUrl, archived);
      try {
        await replayOnce(server.url, tokenOf(0), warmUpId, o.lines);
        replayArchiveColdMs.push(await replayOnce(server.url, tokenOf(0), id, o.lines));
        replayArchiveWarmMs.push(await replayOnce(server.url, tokenOf(0), id, o.lines));
      } finally {
        await server.stop();
      }
    }
    return {
      lines: o.lines,
      listBytes,
      archivedRedisBytes,
      archiveBytes,
      replayRedisMs: replayRedisMs.map((ms) => round(ms, 1)),
      replayArchiveColdMs: replayArchiveColdMs.map((ms) => round(ms, 1)),
      replayArchiveWarmMs: replayArchiveWarmMs.map((ms) => round(ms, 1)),
      ingestLinesPerSecond: o.ingestRate,
      cpuPlainCores: cpuPlainCores.map((c) => round(c, 3)),
      cpuArchiveCores: cpuArchiveCores.map((c) => round(c, 3)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures as table rows, with the ratios the archive issue asks for. */
export function archiveRows(m: ArchiveMeasurement): Record<string, string | number>[] {
  const spread = (xs: number[]) => `${median(xs)} [${Math.min(...xs)}–${Math.max(...xs)}]`;
  return [
    { figure: `Redis bytes, finished ${m.lines}-line job (list)`, value: m.listBytes },
    { figure: 'Redis bytes once archived (hash + index)', value: m.archivedRedisBytes },
    { figure: 'archive bytes (gzip chunks)', value: m.archiveBytes },
    { figure: 'archive bytes ÷ list bytes', value: round(m.archiveBytes / m.listBytes, 3) },
    { figure: 'replay from Redis, ms', value: spread(m.replayRedisMs) },
    { figure: 'replay from the archive, cold, ms', value: spread(m.replayArchiveColdMs) },
    { figure: 'replay from the archive, warm, ms', value: spread(m.replayArchiveWarmMs) },
    {
      figure: 'cold archive replay ÷ Redis replay',
      value: round(median(m.replayArchiveColdMs) / median(m.replayRedisMs), 2),
    },
    {
      figure: `gateway CPU at ${m.ingestLinesPerSecond} lines/s, no archive (cores)`,
      value: spread(m.cpuPlainCores),
    },
    {
      figure: `gateway CPU at ${m.ingestLinesPerSecond} lines/s, archiving (cores)`,
      value: spread(m.cpuArchiveCores),
    },
  ];
}
