/**
 * An open-loop publisher: each job gets `ratePerJob` lines a second on a fixed schedule, sent
 * without waiting for the previous call (one connection keeps each job's order), each line
 * stamped with its scheduled time. A slow Redis or gateway therefore shows up as latency, never as
 * a publisher that slows down to match it. With `batch`, the lines due for a job at one moment go
 * out in one call, as JobPublisher sends them; without, one line per call.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from '../../shared/redis/client.js';
import { appendLines, type LineToAppend } from '../../shared/redis/functions.js';
import { microsNow, stampedLine } from '../lib/line-stamp.js';

export interface PublishResult {
  published: number;
  failed: number;
  /** The most lines that were due but not yet sent at one moment (the publisher's own lag). */
  maxBacklog: number;
}

/** The publisher wakes this often; lines due in between go out together. */
const TICK_MS = 5;

export async function publishOpenLoop(
  redis: RedisConnection,
  jobIds: string[],
  ratePerJob: number,
  batch: boolean,
  durationMs: number,
): Promise<PublishResult> {
  const result: PublishResult = { published: 0, failed: 0, maxBacklog: 0 };
  if (ratePerJob <= 0) {
    await sleep(durationMs);
    return result;
  }
  const startMicros = microsNow();
  const sent = jobIds.map(() => 0);
  const inFlight = new Set<Promise<unknown>>();
  const total = Math.floor((durationMs / 1000) * ratePerJob);
  for (;;) {
    const elapsedMicros = microsNow() - startMicros;
    const due = Math.min(total, Math.floor((elapsedMicros / 1e6) * ratePerJob) + 1);
    let backlog = 0;
    jobIds.forEach((jobId, j) => {
      const lines: LineToAppend[] = [];
      for (let n = sent[j]!; n < due; n++) {
        const scheduled = startMicros + Math.round((n / ratePerJob) * 1e6);
        lines.push({ stream: 'stdout', line: stampedLine(scheduled, n + 1) });
      }
      backlog += lines.length;
      sent[j] = due;
      const calls = batch ? (lines.length > 0 ? [lines] : []) : lines.map((line) => [line]);
      for (const call of calls) {
        const promise = appendLines(redis, jobId, call).then(
          () => void (result.published += call.length),
          () => void (result.failed += call.length),
        );
        inFlight.add(promise);
        void promise.finally(() => inFlight.delete(promise));
      }
    });
    result.maxBacklog = Math.max(result.maxBacklog, backlog);
    if (due >= total) break;
    await sleep(TICK_MS);
  }
  await Promise.all(inFlight);
  return result;
}
