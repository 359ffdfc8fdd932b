/**
 * `jobstream` from a terminal (docs/benchmarks.md "The CLI"): how long reading a finished
 * 100,000-line job takes, its output going to a file, against the floor of the same gateway's
 * plain-text download read by curl (`output.txt`) and its Server-Sent Events stream (`/stream`)
 * read by curl, in the same run: `jobstream logs` (HTTP pages), `logs -f` (the WebSocket replay,
 * then `done`) and `logs --json`, plus the CLI's start-up alone (`--help`). The compiled CLI is
 * timed (what an installed package runs), not the repository's TypeScript through tsx.
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { ROOT } from '../lib/build.js';
import type { Row } from './report.js';
import { median, progress, round } from './progress.js';
import { BenchServer, tokenOf } from './servers.js';

/**
 * The CLI compiled as its package is (packages/cli/tsconfig.build.json), into a folder of the
 * bench's own under the repository (so its imports resolve from node_modules), never into the
 * package's dist/ that `npm pack` reads and another test may be building at the same moment.
 */
const BUILD = join(ROOT, '.tmp', 'bench-cli');
const CLI = join(BUILD, 'packages', 'cli', 'src', 'main.js');

export interface CliMeasurement {
  lines: number;
  /** Per reader, the milliseconds of each run (process start to exit, output written to a file). */
  ms: Record<string, number[]>;
  /** Per reader, the bytes it wrote. */
  bytes: Record<string, number>;
}

/** Runs `command` with its stdout to a file; resolves with the elapsed ms and the bytes written. */
async function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  file: string,
): Promise<[number, number]> {
  const out = createWriteStream(file);
  await new Promise((resolve) => out.once('open', resolve));
  const started = performance.now();
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const ms = performance.now() - started;
  out.close();
  // `logs -f` exits with the job's outcome; the job succeeded, so anything else is a failure.
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}`);
  return [ms, statSync(file).size];
}

export async function cliScenario(
  redis: Redis,
  redisUrl: string,
  o: { lines: number; runs: number },
): Promise<CliMeasurement> {
  progress('cli: compiling the CLI');
  await promisify(execFile)(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'packages/cli/tsconfig.build.json',
      '--outDir',
      BUILD,
    ],
    { cwd: ROOT },
  );
  const id = `cli-bench-${Date.now()}`;
  await createJob(redis, { id, owner: 'user0', title: 'cli bench' });
  await setJobStatus(redis, id, 'running');
  for (let i = 0; i < o.lines; i += 1000)
    await appendLines(
      redis,
      id,
      Array.from({ length: Math.min(1000, o.lines - i) }, (_, k) => ({
        stream: 'stdout' as const,
        line: `2026-12-07T01:00:00.000Z [build] step ${i + k}: compiling src/module-${(i + k) % 700}/index.ts … ok`,
      })),
    );
  await setJobStatus(redis, id, 'success', { exitCode: 0 });
  const server = await BenchServer.start('gateway', redisUrl, { JOBSTREAM_MAX_LINES: String(o.lines * 2) });
  const http = `http://127.0.0.1:${server.port}`;
  const token = tokenOf(0);
  const env = { JOBSTREAM_URL: http, JOBSTREAM_TOKEN: token, NO_COLOR: '1' };
  const auth = ['-sf', '-H', `Authorization: Bearer ${token}`];
  const readers: Record<string, [string, string[]]> = {
    'curl output.txt (floor)': ['curl', [...auth, `${http}/api/jobs/${id}/output.txt?ansi=keep`]],
    'curl SSE /stream': ['curl', [...auth, '-N', `${http}/api/jobs/${id}/stream?since=0`]],
    'jobstream logs': [process.execPath, [CLI, 'logs', id]],
    'jobstream logs -f': [process.execPath, [CLI, 'logs', '-f', id]],
    'jobstream logs --json': [process.execPath, [CLI, 'logs', '--json', id]],
    'jobstream --help (start-up)': [process.execPath, [CLI, '--help']],
    // A short command is mostly start-up and one request: these two say what the CLI adds to it.
    'curl /api/jobs (short)': ['curl', [...auth, `${http}/api/jobs?limit=5`]],
    'jobstream ls (short)': [process.execPath, [CLI, 'ls', '--limit', '5']],
  };
  const folder = mkdtempSync(join(tmpdir(), 'jobstream-cli-bench-'));
  const ms: Record<string, number[]> = {};
  const bytes: Record<string, number> = {};
  try {
    for (let run = 1; run <= o.runs; run++)
      for (const [name, [command, args]] of Object.entries(readers)) {
        progress(`cli: ${name}, run ${run} of ${o.runs}`);
        const [elapsed, size] = await timed(command, args, env, join(folder, 'out'));
        (ms[name] ??= []).push(elapsed);
        bytes[name] = size;
      }
  } finally {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
  return { lines: o.lines, ms, bytes };
}

export function cliRows(m: CliMeasurement): Row[] {
  const floor = median(m.ms['curl output.txt (floor)'] ?? [1]);
  return Object.entries(m.ms).map(([reader, runs]) => {
    const sorted = [...runs].sort((a, b) => a - b);
    return {
      reader,
      'ms median [min–max]': `${round(median(runs), 0)} [${round(sorted[0]!, 0)}–${round(sorted.at(-1)!, 0)}]`,
      '÷ output.txt': round(median(runs) / floor),
      'lines/s': /start-up|short/.test(reader) ? '' : Math.round((m.lines / median(runs)) * 1000),
      'bytes out': m.bytes[reader] ?? 0,
    };
  });
}
