/** The browser side of the bench: the dashboard in headless Chromium (scripts/bench-browser.ts). */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ROOT } from '../lib/build.js';

export interface BrowserMeasurement {
  linesPerSecond: number;
  delivered: { lastSeq: number; held: number }[];
  expectedPerJob: number;
  longTasks: { count: number; p95ms: number; maxMs: number };
  frames: { count: number; p50ms: number; p95ms: number; p99ms: number };
  heapMb: { second: number; mb: number }[];
}

/** The dashboard in headless Chromium following `jobs` jobs at `rate` lines/s each (scripts/bench-browser.ts). */
export async function browser(o: {
  seconds: number;
  rate: number;
  jobs: number;
}): Promise<BrowserMeasurement> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/bench-browser.ts',
      '--seconds',
      String(o.seconds),
      '--rate',
      String(o.rate),
      '--jobs',
      String(o.jobs),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const file = /JSON: (\S+)/.exec(output)?.[1];
  if (code !== 0 || !file) throw new Error(`the browser bench failed (${code}): ${output.slice(-2000)}`);
  return JSON.parse(readFileSync(file, 'utf8')) as BrowserMeasurement;
}
