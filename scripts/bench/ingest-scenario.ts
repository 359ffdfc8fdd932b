/**
 * HTTP ingest against direct Redis runners (docs/benchmarks.md "Ingest"): `runners` runners each
 * sending `batch`-line batches as fast as their answers come back, for `seconds`, over keep-alive
 * HTTP to one gateway (`POST /api/jobs/:id/lines` with `after`), then the same runners calling
 * `FCALL jobstream_append` directly, one connection each. Lines a second, CPU per line of the
 * gateway and of Redis, and runner→watcher latency (a socket watching some of the jobs; each
 * batch's first line carries its send time).
 */
import type { Redis } from 'ioredis';
import { build } from 'hdr-histogram-js';
import { WebSocket } from 'ws';
import { signToken } from '../../shared/auth/tokens.js';
import { PROTOCOL, type ServerFrame } from '../../shared/protocol.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { percentiles } from '../lib/load.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { progress, round } from './progress.js';
import { BENCH_SECRET, BenchServer, tokenOf } from './servers.js';

export interface IngestRow {
  path: 'http' | 'direct';
  /** null: as fast as answers come back (throughput); else each runner's batch interval. */
  paceMs: number | null;
  linesPerSecond: number;
  gatewayCpuUsPerLine: number;
  redisCpuUsPerLine: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

const redisCpuSeconds = async (redis: Redis): Promise<number> => {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
};

const batchOf = (size: number, stamp: number, n: number) =>
  Array.from({ length: size }, (_, k) => ({
    stream: 'stdout' as const,
    line:
      k === 0 ? `@${stamp} batch ${n}` : `2026-12-06T05:00:00Z step ${n}.${k}: compiling src/module.ts … ok`,
  }));

/** A socket watching `jobIds`: the latency of each batch's first line (its text starts with @<ms>). */
async function watch(url: string, jobIds: string[]) {
  const histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const ws = new WebSocket(`${url}/ws`, [PROTOCOL], { headers: { authorization: `Bearer ${tokenOf(0)}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    if (frame.type !== 'output') return;
    for (const line of frame.lines)
      if (line.line.startsWith('@'))
        histogram.recordValue(
          Math.max(1, (Date.now() - Number(line.line.slice(1, line.line.indexOf(' ')))) * 1000),
        );
  });
  for (const jobId of jobIds) ws.send(JSON.stringify({ type: 'subscribe', jobId }));
  return { histogram, close: () => ws.close() };
}

export async function ingest(
  redis: Redis,
  redisUrl: string,
  o: { runners: number; batch: number; seconds: number; paceMs: number | null },
): Promise<IngestRow[]> {
  const server = await BenchServer.start('gateway', redisUrl);
  const runnerToken = signToken(BENCH_SECRET, { sub: 'bench-ci', role: 'runner' }, 3600);
  const rows: IngestRow[] = [];
  try {
    for (const path of ['http', 'direct'] as const) {
      progress(
        `ingest · ${o.runners} runners × ${o.batch}-line batches, ${path}, ${o.paceMs === null ? 'flat out' : `one every ${o.paceMs} ms`}`,
      );
      const jobs: { id: string; jobToken: string }[] = [];
      for (let i = 0; i < o.runners; i++) {
        const id = `ingest-${path}-${Date.now()}-${i}`;
        if (path === 'http') {
          const res = await fetch(`${server.url.replace('ws', 'http')}/api/jobs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${runnerToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ id, title: 'ingest', owner: 'bench' }),
          });
          jobs.push({ id, jobToken: ((await res.json()) as { jobToken: string }).jobToken });
        } else {
          await createJob(redis, { id, owner: 'bench', title: 'ingest' });
          jobs.push({ id, jobToken: '' });
        }
      }
      const watcher = await watch(
        server.url,
        jobs.slice(0, 10).map((j) => j.id),
      );
      const connections = path === 'direct' ? jobs.map(() => redis.duplicate()) : [];
      const cpuBefore = server.cpuSeconds();
      const redisBefore = await redisCpuSeconds(redis);
      const started = performance.now();
      const until = started + o.seconds * 1000;
      let lines = 0;
      await Promise.all(
        jobs.map(async (job, i) => {
          let after = 0;
          const offset = o.paceMs === null ? 0 : (o.paceMs * i) / jobs.length; // runners spread out
          for (let n = 0; performance.now() < until; n++) {
            if (o.paceMs !== null) {
              const due = started + offset + n * o.paceMs - performance.now();
              if (due > 0) await sleep(due);
            }
            const batch = batchOf(o.batch, Date.now(), n);
            if (path === 'direct') {
              after = await appendLines(connections[i]!, job.id, batch);
            } else {
              const res = await fetch(`${server.url.replace('ws', 'http')}/api/jobs/${job.id}/lines`, {
                method: 'POST',
                headers: { authorization: `Bearer ${job.jobToken}`, 'content-type': 'application/json' },
                body: JSON.stringify({ after, lines: batch }),
              });
              if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
              after = ((await res.json()) as { lastSeq: number }).lastSeq;
            }
            lines += o.batch;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const gatewayCpu = server.cpuSeconds() - cpuBefore;
      const redisCpu = (await redisCpuSeconds(redis)) - redisBefore;
      watcher.close();
      for (const c of connections) c.disconnect();
      for (const job of jobs) await setJobStatus(redis, job.id, 'success');
      rows.push({
        path,
        paceMs: o.paceMs,
        linesPerSecond: Math.round(lines / elapsed),
        gatewayCpuUsPerLine: round((gatewayCpu * 1e6) / lines, 2),
        redisCpuUsPerLine: round((redisCpu * 1e6) / lines, 2),
        latencyMs: percentiles(watcher.histogram, 1000),
      });
    }
  } finally {
    await server.stop();
  }
  return rows;
}

/** The rows as a table, with HTTP ÷ direct. */
export function ingestRows(runs: IngestRow[][]): Record<string, string | number>[] {
  return runs.flatMap((rows, run) => {
    const [http, direct] = [rows.find((r) => r.path === 'http')!, rows.find((r) => r.path === 'direct')!];
    return rows.map((r) => ({
      run: run + 1,
      load: r.paceMs === null ? 'flat out' : `${Math.round((100 * 100 * 1000) / r.paceMs)} lines/s offered`,
      path: r.path,
      'lines/s': r.linesPerSecond,
      '÷ direct': round(r.linesPerSecond / direct.linesPerSecond, 2),
      'gateway µs/line': r.gatewayCpuUsPerLine,
      'Redis µs/line': r.redisCpuUsPerLine,
      'p50 ms': r.latencyMs.p50,
      'p99 ms': r.latencyMs.p99,
      'p99 − direct p99': r === http ? round(http.latencyMs.p99 - direct.latencyMs.p99, 2) : 0,
    }));
  });
}
