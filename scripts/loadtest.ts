/**
 * npm run loadtest -- --url ws://127.0.0.1:8080/ws --sockets 5000 --redis redis://127.0.0.1:6379 …
 *
 * Drives many sockets at any gateway that speaks jobstream.v1 and tells the truth about it: every
 * subscription is checked exactly-once (lines missing, repeated or out of order — gaps counted
 * apart), latency is measured from each line's scheduled send time (no coordinated omission),
 * and faults can be injected: a reconnect storm, subscription churn, stalled readers. Sockets are
 * spread over worker processes and source addresses; progress shows while it runs; the result is
 * a table, `--json`, and an exit code: 0 clean, 1 a correctness failure, 2 could not run.
 * Flags and the scenario file: docs/loadtest.md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readCommandLine } from './lib/cli.js';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { connectTo } from '../shared/redis/connect.js';
import { createJob, setJobStatus } from '../shared/redis/functions.js';
import { ensureLibrary } from '../shared/redis/library.js';
import { signToken } from '../shared/auth/tokens.js';
import { newConnectHistogram, newLatencyHistogram, percentiles } from './lib/load.js';
import { processCount, redisTargetOf, scenarioFromCli, type Scenario } from './loadtest/options.js';
import { publishOpenLoop, type PublishResult } from './loadtest/publisher.js';
import { describeViolation } from './loadtest/tracker.js';
import { runWorkerProcess } from './loadtest/worker.js';
import type { CoordinatorCommand, WorkerMessage, WorkerProgress, WorkerReport } from './loadtest/messages.js';

const EXIT = { clean: 0, incorrect: 1, couldNotRun: 2 } as const;

const LOADTEST_HELP = {
  usage: 'usage: npm run loadtest -- --url ws://HOST:PORT/ws --redis redis://HOST:PORT [options]',
  description: `
Drives many sockets at a gateway, publishes lines through Redis and checks every subscription
exactly-once. Exit code: 0 clean, 1 a line missing, repeated or out of order, 2 could not run.
Every flag, the scenario file and how to read the report: docs/loadtest.md.

  --url U (repeatable)      gateway WebSocket address(es)
  --redis URL|host:port,…   where the test's jobs are created and fed (a list: a Redis Cluster)
  --sockets N --processes P --local-addresses A,B   how many sockets, over how many processes
  --ramp S --seconds S      connect ramp and measured time
  --jobs N --rate R --subs-per-socket K --batch     the jobs, lines a second, subscriptions
  --auth MODE --tokens FILE                         how sockets sign in
  --reconnect-storm-at S --storm-fraction F --churn R --stall N --stall-for S   faults
  --scenario FILE --json FILE --job-prefix P --job-ids A,B
  -h, --help                this text`,
};

class CouldNotRun extends Error {}

function tokensFor(scenario: Scenario): string[] {
  if (scenario.tokensFile) {
    const tokens = readFileSync(scenario.tokensFile, 'utf8')
      .split('\n')
      .map((t) => t.trim())
      .filter(Boolean);
    if (tokens.length === 0) throw new CouldNotRun(`${scenario.tokensFile} holds no token`);
    return tokens;
  }
  const secret = process.env.JWT_SECRET;
  if (!secret) throw new CouldNotRun('set JWT_SECRET (tokens are minted with it) or give --tokens FILE');
  // Admins (jobs of any owner), one `sub` per 100 sockets so the per-user socket cap is not what is measured.
  return Array.from({ length: Math.ceil(scenario.sockets / 100) }, (_, i) =>
    signToken(secret, { sub: `load-${i}`, role: 'admin' }, 6 * 3600),
  ).flatMap((token) => Array<string>(100).fill(token));
}

class Workers {
  readonly children: ChildProcess[];
  readonly progress = new Map<number, WorkerProgress>();
  private readonly reports: WorkerReport[] = [];

  constructor(count: number) {
    const self = fileURLToPath(import.meta.url);
    this.children = Array.from({ length: count }, (_, i) => {
      const child = fork(self, ['--worker'], { execArgv: ['--import', 'tsx'] });
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') this.progress.set(i, m.progress);
        if (m.type === 'report') this.reports.push(m.report);
      });
      return child;
    });
  }

  send(command: CoordinatorCommand): void {
    for (const child of this.children) child.send(command);
  }

  connected(timeoutMs: number): Promise<void> {
    return Promise.race([
      Promise.all(
        this.children.map(
          (child) =>
            new Promise<void>((resolve) =>
              child.on('message', (m: WorkerMessage) => m.type === 'connected' && resolve()),
            ),
        ),
      ).then(() => undefined),
      new Promise<void>((_, reject) =>
        setTimeout(() => reject(new Error('sockets did not all open in time')), timeoutMs).unref(),
      ),
    ]);
  }

  async stop(): Promise<WorkerReport[]> {
    const exited = this.children.map((c) => new Promise((resolve) => c.once('exit', resolve)));
    this.send({ type: 'stop' });
    await Promise.all(exited);
    return this.reports;
  }
}

/** One status line: a TTY gets it updated in place every second, a log a line every five. */
function startProgress(workers: Workers, sockets: number): () => void {
  const tty = process.stdout.isTTY;
  let lastLines = 0;
  let tick = 0;
  const timer = setInterval(() => {
    tick++;
    const all = [...workers.progress.values()];
    const lines = all.reduce((n, p) => n + p.lines, 0);
    const latency = newLatencyHistogram();
    for (const p of all) latency.add(decodeFromCompressedBase64(p.latencyUs));
    const text =
      `sockets ${all.reduce((n, p) => n + p.open, 0)}/${sockets} open · ${lines - lastLines} lines/s · ` +
      `p99 ${(latency.getValueAtPercentile(99) / 1000).toFixed(1)} ms · errors ${all.reduce((n, p) => n + p.errors, 0)}`;
    lastLines = lines;
    if (tty) process.stdout.write(`\r${text}   `);
    else if (tick % 5 === 0) console.log(text);
  }, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (tty) process.stdout.write('\n');
  };
}

async function run(scenario: Scenario): Promise<number> {
  const processes = processCount(scenario);
  const tokens = tokensFor(scenario);
  const prefix = scenario.jobPrefix ?? `load-${Date.now().toString(36)}`;
  const jobIds = scenario.jobIds ?? Array.from({ length: scenario.jobs }, (_, i) => `${prefix}-${i}`);
  const redis = scenario.redis ? connectTo(redisTargetOf(scenario.redis), { maxRetriesPerRequest: 1 }) : null;
  if (redis) {
    try {
      await ensureLibrary(redis);
      for (const id of jobIds) {
        await createJob(redis, { id, owner: 'loadtest', title: `load test ${id}` });
        await setJobStatus(redis, id, 'running');
      }
    } catch (error) {
      redis.disconnect();
      throw new CouldNotRun(`could not create the jobs in ${scenario.redis}: ${(error as Error).message}`);
    }
  }

  const workers = new Workers(processes);
  const per = Math.floor(scenario.sockets / processes);
  workers.children.forEach((child, index) => {
    const count = per + (index < scenario.sockets % processes ? 1 : 0);
    const offset = index * per + Math.min(index, scenario.sockets % processes);
    child.send({ type: 'start', start: { scenario, index, offset, count, jobIds, tokens, processes } });
  });
  const stopProgress = startProgress(workers, scenario.sockets);
  const connectStarted = performance.now();
  const rampMs = scenario.rampPerSecond > 0 ? (scenario.sockets / scenario.rampPerSecond) * 1000 : 0;
  await workers.connected(rampMs + 120_000);
  const connectSeconds = (performance.now() - connectStarted) / 1000;

  // The measured part: publishing (or watching) for the duration, with the faults asked for.
  const durationMs = scenario.durationS * 1000;
  const faults: NodeJS.Timeout[] = [];
  if (scenario.reconnectStormAtS !== undefined)
    faults.push(
      setTimeout(
        () => workers.send({ type: 'storm', fraction: scenario.stormFraction }),
        scenario.reconnectStormAtS * 1000,
      ),
    );
  if (scenario.stallFraction > 0)
    faults.push(
      setTimeout(
        () =>
          workers.send({ type: 'stall', fraction: scenario.stallFraction, forMs: scenario.stallForS * 1000 }),
        durationMs / 4,
      ),
    );
  if (scenario.churnPerSecond > 0) {
    const churn = setInterval(
      () => workers.send({ type: 'churn', count: Math.ceil(scenario.churnPerSecond / processes) }),
      1000,
    );
    faults.push(churn);
  }
  const measureStarted = performance.now();
  let published: PublishResult = { published: 0, failed: 0, maxBacklog: 0 };
  if (redis)
    published = await publishOpenLoop(redis, jobIds, scenario.ratePerJob, scenario.batch, durationMs);
  else await new Promise((resolve) => setTimeout(resolve, durationMs));
  const measuredSeconds = (performance.now() - measureStarted) / 1000;
  for (const fault of faults) clearTimeout(fault);

  // Finish our jobs: every subscription then ends with `done`, and the books can be closed.
  if (redis) {
    for (const id of jobIds) await setJobStatus(redis, id, 'success').catch(() => undefined);
    const settleBy = Date.now() + 30_000 + scenario.stallForS * 1000;
    while (Date.now() < settleBy && ![...workers.progress.values()].every((p) => p.allDone))
      await new Promise((resolve) => setTimeout(resolve, 200));
    redis.disconnect();
  }
  stopProgress();
  const reports = await workers.stop();
  return summarize(scenario, reports, {
    connectSeconds,
    measuredSeconds,
    published,
    processes,
    jobs: jobIds.length,
  });
}

function summarize(
  scenario: Scenario,
  reports: WorkerReport[],
  run: {
    connectSeconds: number;
    measuredSeconds: number;
    published: PublishResult;
    processes: number;
    jobs: number;
  },
): number {
  const connect = newConnectHistogram();
  const latency = newLatencyHistogram();
  const errors = new Map<string, number>();
  const counts = { missing: 0, repeated: 0, 'out of order': 0 };
  for (const r of reports) {
    // HDR histograms travel between processes in their compressed form and merge exactly.
    connect.add(decodeFromCompressedBase64(r.connectMs));
    latency.add(decodeFromCompressedBase64(r.latencyUs));
    for (const [k, v] of r.errors) errors.set(k, (errors.get(k) ?? 0) + v);
    for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] += r.counts[k];
  }
  const sum = (f: (r: WorkerReport) => number): number => reports.reduce((n, r) => n + f(r), 0);
  const violations = reports.flatMap((r) => r.violations);
  const storms = reports.map((r) => r.stormRecoveryMs).filter((ms): ms is number => ms !== null);
  const lines = sum((r) => r.lines);
  const opened = sum((r) => r.opened);
  const summary = {
    urls: scenario.urls,
    sockets: scenario.sockets,
    opened,
    processes: run.processes,
    jobs: run.jobs,
    subscriptions: sum((r) => r.subscriptions),
    subscriptionsDone: sum((r) => r.done),
    connectSeconds: Math.round(run.connectSeconds * 100) / 100,
    connectMs: { ...percentiles(connect), 'p99.9': connect.getValueAtPercentile(99.9) },
    published: run.published.published,
    publishFailed: run.published.failed,
    publisherMaxBacklog: run.published.maxBacklog,
    linesDelivered: lines,
    linesPerSecond: Math.round(lines / run.measuredSeconds),
    gapLines: sum((r) => r.gapLines),
    latencyMs: {
      ...percentiles(latency, 1000),
      'p99.9': Math.round(latency.getValueAtPercentile(99.9) / 10) / 100,
    },
    stormRecoveryMs:
      scenario.reconnectStormAtS === undefined ? null : storms.length > 0 ? Math.max(...storms) : null,
    violations: counts,
    firstViolations: violations.slice(0, 50).map(describeViolation),
    errors: Object.fromEntries(errors),
  };
  console.table({
    sockets: `${opened}/${scenario.sockets} opened over ${run.processes} process(es), ${summary.subscriptions} subscriptions`,
    connect: `${summary.connectSeconds} s; p50 ${summary.connectMs.p50} ms, p99 ${summary.connectMs.p99} ms, max ${summary.connectMs.max} ms`,
    published: `${summary.published} lines (${summary.publishFailed} failed; publisher backlog at most ${summary.publisherMaxBacklog})`,
    delivered: `${lines} lines, ${summary.linesPerSecond}/s; ${summary.gapLines} announced by gaps`,
    latency: `p50 ${summary.latencyMs.p50} ms, p90 ${summary.latencyMs.p90} ms, p99 ${summary.latencyMs.p99} ms, p99.9 ${summary.latencyMs['p99.9']} ms, max ${summary.latencyMs.max} ms`,
    storm:
      summary.stormRecoveryMs === null
        ? '—'
        : `every subscription streaming again after ${summary.stormRecoveryMs} ms`,
    correctness: `${counts.missing} missing, ${counts.repeated} repeated, ${counts['out of order']} out of order; ${summary.subscriptionsDone}/${summary.subscriptions} saw done`,
    errors: errors.size === 0 ? 'none' : [...errors].map(([k, v]) => `${k}×${v}`).join(', '),
  });
  for (const line of summary.firstViolations.slice(0, 10)) console.log(line);
  if (scenario.json) writeFileSync(scenario.json, JSON.stringify(summary, null, 2));
  if (opened === 0) {
    console.error('loadtest: no socket opened');
    return EXIT.couldNotRun;
  }
  const incorrect = counts.missing + counts.repeated + counts['out of order'] > 0;
  const silent = run.published.published > 0 && lines === 0;
  if (silent) console.error('loadtest: lines were published but none arrived');
  return incorrect || silent ? EXIT.incorrect : EXIT.clean;
}

if (process.argv.includes('--worker')) {
  runWorkerProcess();
} else {
  let code: number = EXIT.couldNotRun;
  try {
    const { values } = readCommandLine(LOADTEST_HELP, {
      options: {
        url: { type: 'string', multiple: true },
        sockets: { type: 'string' },
        processes: { type: 'string' },
        'local-addresses': { type: 'string' },
        ramp: { type: 'string' },
        duration: { type: 'string' },
        seconds: { type: 'string' },
        'subs-per-socket': { type: 'string' },
        auth: { type: 'string' },
        tokens: { type: 'string' },
        redis: { type: 'string' },
        jobs: { type: 'string' },
        'job-ids': { type: 'string' },
        rate: { type: 'string' },
        batch: { type: 'boolean' },
        'reconnect-storm-at': { type: 'string' },
        'storm-fraction': { type: 'string' },
        churn: { type: 'string' },
        stall: { type: 'string' },
        'stall-for': { type: 'string' },
        json: { type: 'string' },
        scenario: { type: 'string' },
        'job-prefix': { type: 'string' },
      },
    });
    code = await run(scenarioFromCli(values));
  } catch (error) {
    console.error(`loadtest: ${error instanceof Error ? error.message : String(error)}`);
    code = EXIT.couldNotRun;
  }
  process.exit(code);
}
