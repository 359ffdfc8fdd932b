/**
 * npx tsx scripts/bench-browser.ts [--seconds 30] [--rate 1000] [--jobs 3]
 *
 * Chromium follows `--jobs` jobs on the watch page while each receives `--rate` lines a second:
 * main-thread long tasks (PerformanceObserver), frame times (requestAnimationFrame deltas), and
 * the JS heap over time (flat once the line caps are reached). Printed as a table and JSON.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCommandLine } from './lib/cli.js';
import { JobPublisher } from '../shared/runner/publisher.js';
import { launchBrowser } from './lib/browser.js';
import { ROOT } from './lib/build.js';
import { startStack } from './lib/stack.js';

const { values: args } = readCommandLine(
  {
    usage: 'usage: npx tsx scripts/bench-browser.ts [--seconds 30] [--rate 1000] [--jobs 3]',
    description: `
Headless Chromium follows --jobs jobs on the watch page while each receives --rate lines a
second for --seconds: long tasks, frame times and the JS heap, as a table and JSON.`,
  },
  {
    options: {
      seconds: { type: 'string', default: '30' },
      rate: { type: 'string', default: '1000' },
      jobs: { type: 'string', default: '3' },
    },
  },
);
const seconds = Number(args.seconds);
const rate = Number(args.rate);

const stack = await startStack({ secret: 'bench-browser', dashboard: true });
const { gateway } = stack;
const client = stack.redis!.client(); // standalone: JobPublisher takes a standalone connection
const publishers = await Promise.all(
  Array.from({ length: Number(args.jobs) }, async (_, i) => {
    const p = await JobPublisher.create(client, { id: `bb-${i}`, owner: 'alice', title: `bench ${i}` });
    await p.start();
    return p;
  }),
);
const browser = await launchBrowser();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const cdp = await page.context().newCDPSession(page);
// Script text, not a function: tsx wraps named functions in a `__name` helper that does not
// exist once the function is serialised into the page.
await page.addInitScript({
  content: `
    window.__bench = { longTasks: [], frames: [] };
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__bench.longTasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
    let last = 0;
    const tick = () => {
      const t = performance.now();
      if (last > 0) window.__bench.frames.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  `,
});
await page.goto(
  `${gateway.url}/watch?jobs=${publishers.map((p) => p.jobId).join(',')}#token=${stack.token('alice')}`,
);
await page.locator('[data-testid^="pane-"]').first().waitFor();
await page.evaluate(() => {
  const w = window as unknown as { __bench: { longTasks: number[]; frames: number[] } };
  w.__bench.longTasks = [];
  w.__bench.frames = [];
});

const heapMb = async (): Promise<number> => {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  return Math.round((usedSize / 1024 / 1024) * 10) / 10;
};
const heap: { second: number; mb: number }[] = [{ second: 0, mb: await heapMb() }];
// BENCH_PROFILE=file.cpuprofile: a CPU profile of the page over the run, for Chrome DevTools.
if (process.env.BENCH_PROFILE) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.start');
}
let seq = 0;
const started = performance.now();
for (let second = 1; second <= seconds; second++) {
  // 1,000 lines a second per job, written in 20 slices of 50 so they arrive as a stream, not a burst
  for (let slice = 0; slice < 20; slice++) {
    for (let i = 0; i < rate / 20; i++) {
      seq++;
      for (const p of publishers)
        p.stdout(
          `\u001b[36m[step ${seq}]\u001b[0m compiling src/module-${seq % 700}.ts … \u001b[32mok\u001b[0m`,
        );
    }
    const due = started + (second - 1) * 1000 + (slice + 1) * 50;
    await sleep(Math.max(0, due - performance.now()));
  }
  if (second % 5 === 0) heap.push({ second, mb: await heapMb() });
}
await Promise.all(publishers.map((p) => p.flush()));
await sleep(1000);
if (process.env.BENCH_PROFILE) {
  const { profile } = await cdp.send('Profiler.stop');
  writeFileSync(process.env.BENCH_PROFILE, JSON.stringify(profile));
}
const measured = await page.evaluate(
  () => (window as unknown as { __bench: { longTasks: number[]; frames: number[] } }).__bench,
);
const held = await page.evaluate(
  (ids) =>
    ids
      .map((id) =>
        (
          window as unknown as {
            __jobstream: { store(id: string): { getSnapshot(): { lastSeq: number; lines: unknown[] } } };
          }
        ).__jobstream
          .store(id)
          .getSnapshot(),
      )
      .map((s) => ({ lastSeq: s.lastSeq, held: s.lines.length })),
  publishers.map((p) => p.jobId),
);
const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return (
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 10) / 10
  );
};
const result = {
  date: new Date().toISOString(),
  command: `npx tsx scripts/bench-browser.ts --seconds ${seconds} --rate ${rate} --jobs ${publishers.length}`,
  linesPerSecond: rate * publishers.length,
  expectedPerJob: seq,
  delivered: held,
  longTasks: {
    count: measured.longTasks.length,
    p95ms: pct(measured.longTasks, 95),
    maxMs: pct(measured.longTasks, 100),
  },
  frames: {
    count: measured.frames.length,
    p50ms: pct(measured.frames, 50),
    p95ms: pct(measured.frames, 95),
    p99ms: pct(measured.frames, 99),
  },
  heapMb: heap,
};
console.table({
  'lines/s into the page': result.linesPerSecond,
  'lines received per job': held.map((h) => h.lastSeq).join(', '),
  'long tasks (>50 ms)': `${result.longTasks.count}, p95 ${result.longTasks.p95ms} ms, max ${result.longTasks.maxMs} ms`,
  'frame time': `p50 ${result.frames.p50ms} ms, p95 ${result.frames.p95ms} ms, p99 ${result.frames.p99ms} ms`,
  'JS heap (MB) every 5 s': heap.map((h) => h.mb).join(' → '),
});
mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
const file = join(ROOT, 'bench-results', `bench-browser-${result.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2));
console.log(`JSON: ${file}`);
await browser.close();
await Promise.all(publishers.map((p) => p.close()));
await stack.stop();
