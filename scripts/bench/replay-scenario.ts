/** Replay: a finished job's whole log, subscribe to `done`, through each server (docs/benchmarks.md). */
import type { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { countOutputLines, encodeClientFrame, peekFrameType } from '../../shared/frame-peek.js';
import { outputKey } from '../../shared/keys.js';
import { PROTOCOL } from '../../shared/protocol.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { median, progress, round } from './progress.js';
import { BenchServer, tokenOf } from './servers.js';

export interface ReplayMeasurement {
  lines: number;
  gatewayMs: number;
  lrangeMs: number;
  runsMs: { gateway: number[]; lrange: number[] };
}

/** A finished job of `lines` lines replayed through the gateway (subscribe → `done`) against a bare LRANGE. */
export async function replay(
  redis: Redis,
  redisUrl: string,
  o: { lines: number; runs: number },
): Promise<ReplayMeasurement> {
  const id = `replay-${Date.now()}`;
  await createJob(redis, { id, owner: 'bench', title: 'big log' });
  await setJobStatus(redis, id, 'running');
  for (let i = 0; i < o.lines; i += 1000) {
    await appendLines(
      redis,
      id,
      Array.from({ length: Math.min(1000, o.lines - i) }, (_, k) => ({
        stream: 'stdout' as const,
        line: `2026-11-28T05:00:00Z step ${i + k}: compiling src/module-${(i + k) % 700}.ts … ok`,
      })),
    );
  }
  await setJobStatus(redis, id, 'success');
  progress(`replay · ${o.lines} lines`);
  const server = await BenchServer.start('gateway', redisUrl);
  const gateway: number[] = [];
  const lrange: number[] = [];
  try {
    for (let run = 0; run < o.runs; run++) {
      gateway.push(await replayOnce(server.url, tokenOf(0), id, o.lines));
      const started = performance.now();
      const all = await redis.lrange(outputKey(id), 0, -1);
      lrange.push(performance.now() - started);
      if (all.length !== o.lines) throw new Error(`LRANGE read ${all.length}`);
    }
  } finally {
    await server.stop();
  }
  return {
    lines: o.lines,
    gatewayMs: round(median(gateway), 1),
    lrangeMs: round(median(lrange), 1),
    runsMs: { gateway, lrange },
  };
}

/** One subscribe → `done` of a finished job through the server at `url`, in ms (every line counted). */
export function replayOnce(url: string, token: string, jobId: string, lines: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/ws`, [PROTOCOL], { headers: { authorization: `Bearer ${token}` } });
    let started = 0;
    let received = 0;
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      const type = peekFrameType(text);
      if (type === 'hello') {
        started = performance.now();
        ws.send(encodeClientFrame({ type: 'subscribe', jobId }));
      } else if (type === 'output') {
        // Counted, not parsed: the LRANGE baseline does not parse its entries either.
        received += countOutputLines(text);
      } else if (type === 'done') {
        const elapsed = performance.now() - started;
        ws.close();
        if (received !== lines) reject(new Error(`replayed ${received} of ${lines}`));
        else resolve(elapsed);
      }
    });
    ws.on('error', reject);
  });
}
