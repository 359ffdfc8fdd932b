/**
 * The runner side of the bench: JobPublisher writing as fast as it can, and jobrun around
 * `seq 1 N` against the command alone (docs/benchmarks.md, "Runner side").
 */
import { spawn } from 'node:child_process';
import type { Redis } from 'ioredis';
import { outputKey } from '../../shared/keys.js';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { ROOT } from '../lib/build.js';
import { median, progress, round } from './progress.js';

/** lines/s `JobPublisher` sustains into Redis, batching on and off (median of `runs`). */
export async function publisherThroughput(
  redis: Redis,
  o: { lines: number; runs: number },
): Promise<{ mode: string; lines: number; linesPerSecond: number }[]> {
  progress('runner side · JobPublisher');
  const rows = [];
  for (const [mode, lines, options] of [
    ['batching on (10 ms linger, ≤1000 lines)', o.lines, {}],
    ['batching off (1 line per FCALL)', Math.ceil(o.lines / 10), { lingerMs: 0, maxBatchLines: 1 }],
  ] as const) {
    const runs: number[] = [];
    for (let run = 0; run < o.runs; run++) {
      const publisher = await JobPublisher.create(
        redis,
        {
          id: `pub-${Date.now()}-${mode.slice(0, 12).replace(/\W/g, '')}-${run}`,
          owner: 'bench',
          title: mode,
        },
        options,
      );
      await publisher.start();
      const started = performance.now();
      for (let i = 0; i < lines; i++)
        publisher.stdout(`build step ${i}: compiling module ${i % 500} of the project`);
      await publisher.flush();
      runs.push(lines / ((performance.now() - started) / 1000));
      await publisher.close();
    }
    rows.push({ mode, lines, linesPerSecond: Math.round(median(runs)) });
  }
  return rows;
}

export interface JobrunRow {
  mode: string;
  lines: number;
  /** Lines a second from the job's start to its end in Redis time (node's start-up left out), median. */
  linesPerSecond: number;
  spread: string;
  /** Seconds from spawn to exit, median (start-up included). */
  wallSeconds: number;
  /** Every run stored every line, in order. */
  exact: boolean;
}

/**
 * `jobrun` around `seq 1 N` (issue 19's target: every line, ≥ 200,000 lines a second), on pipes
 * and under a pty, against the command alone into a pipe: the floor no runner can beat.
 */
export async function jobrunThroughput(
  redis: Redis,
  redisUrl: string,
  o: { lines: number; runs: number },
): Promise<JobrunRow[]> {
  progress('runner side · jobrun');
  const spawnTimed = async (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<number> => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const code = await new Promise((resolve) => child.once('close', resolve));
    if (code !== 0) throw new Error(`${argv.join(' ')} exited ${String(code)}`);
    return (performance.now() - started) / 1000;
  };
  const rows: JobrunRow[] = [];
  const alone: number[] = [];
  for (let run = 0; run < o.runs; run++)
    alone.push(await spawnTimed(['sh', '-c', `seq 1 ${o.lines} | cat > /dev/null`]));
  rows.push({
    mode: 'seq alone into a pipe (the floor)',
    lines: o.lines,
    linesPerSecond: Math.round(o.lines / median(alone)),
    spread: `${Math.round(o.lines / Math.max(...alone))}–${Math.round(o.lines / Math.min(...alone))}`,
    wallSeconds: round(median(alone)),
    exact: true,
  });
  for (const [mode, flags] of [
    ['jobrun (stdout and stderr on pipes)', []],
    ['jobrun --pty', ['--pty']],
  ] as const) {
    const rates: number[] = [];
    const walls: number[] = [];
    let exact = true;
    for (let run = 0; run < o.runs; run++) {
      const id = `jobrun-${Date.now()}-${run}-${flags.length}`;
      const argv = [process.execPath, '--import', 'tsx', 'scripts/jobrun.ts', '--id', id, ...flags];
      walls.push(await spawnTimed([...argv, '--', 'seq', '1', String(o.lines)], { REDIS_URL: redisUrl }));
      const [seq, startedAt, finishedAt] = await redis.hmget(`job:{${id}}`, 'seq', 'startedAt', 'finishedAt');
      const last = JSON.parse((await redis.lindex(outputKey(id), -1)) ?? '{}') as { line?: string };
      // Under a pty every line ends in \r\n: the same lines, the same count.
      exact &&= Number(seq) === o.lines && last.line === String(o.lines);
      rates.push(o.lines / ((Number(finishedAt) - Number(startedAt)) / 1000));
      await redis.del(`job:{${id}}`, outputKey(id));
    }
    rows.push({
      mode,
      lines: o.lines,
      linesPerSecond: Math.round(median(rates)),
      spread: `${Math.round(Math.min(...rates))}–${Math.round(Math.max(...rates))}`,
      wallSeconds: round(median(walls)),
      exact,
    });
  }
  return rows;
}
