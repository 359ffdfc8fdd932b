/**
 * The benchmark scenarios. Each runs against a private Redis, measures the jobstream gateway
 * (and, where the issue asks for a comparison, the bare relay and Socket.IO under the same offered
 * load, one after another), and returns rows of figures: no assertions, the machines are noisy.
 * `scripts/bench.ts` runs them from the command line; `scripts/bench/bench.test.ts` runs each one
 * tiny, to keep the code paths working (and every line delivered).
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { countOutputLines, encodeClientFrame, peekFrameType } from '../../shared/frame-peek.js';
import { eventsChannel, outputKey } from '../../shared/keys.js';
import { PROTOCOL } from '../../shared/protocol.js';
import { JobPublisher, type JobPublisherOptions } from '../../shared/runner/publisher.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { signToken } from '../../shared/auth/tokens.js';
import { ROOT } from '../lib/build.js';
import { benchLine, LoadClients, percentiles } from '../lib/load.js';
import { atRate, linePublisher } from './offered-load.js';
import { BENCH_SECRET, BenchServer, SERVER_KINDS, type ServerKind } from './servers.js';

/** One server under one offered load. */
export interface Measurement {
  scenario: string;
  server: ServerKind;
  /** Line deliveries per second offered (lines published × their watchers). */
  offered: number;
  expected: number;
  delivered: number;
  lost: number;
  /** Deliveries per second, over the publishing window and the drain after it. */
  throughput: number;
  /** Server CPU-seconds (user + system) per million delivered lines. */
  cpuPerMillion: number;
  p50Ms: number;
  p99Ms: number;
  errors: string;
}

/** What the run is doing now, said on stderr (a long run is not silent, and a stall says where). */
export let stage = 'starting';
let sayProgress = (now: string): void => console.error(`[bench] ${now}`);
/** Where progress is said (the smoke test keeps it quiet). */
export function onProgress(say: (now: string) => void): void {
  sayProgress = say;
}
function progress(now: string): void {
  stage = now;
  sayProgress(now);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Tokens for 50 users, signed once: the load generator's own cost stays out of the storm. */
const tokens = Array.from({ length: 50 }, (_, i) =>
  signToken(BENCH_SECRET, { sub: `user${i}`, role: 'admin' }, 3600),
);
const tokenOf = (i: number): string => tokens[i % tokens.length]!;

/** Resolves once Redis shows the server listening on every job (the relay subscribes lazily). */
async function untilSubscribed(redis: Redis, kind: ServerKind, jobIds: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ready =
      kind === 'socketio'
        ? Number(await redis.call('PUBSUB', 'NUMPAT')) > 0
        : ((await redis.call('PUBSUB', 'NUMSUB', ...jobIds.map(eventsChannel))) as (string | number)[]).every(
            (v, i) => i % 2 === 0 || Number(v) > 0,
          );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`${kind} never subscribed to every job`);
    await sleep(20);
  }
}

function errorSummary(load: LoadClients): string {
  return [...load.stats.errors].map(([k, v]) => `${k}×${v}`).join(' ');
}

/**
 * One measured window: `publish` offers `expected` deliveries, then the window lasts until they
 * have all arrived (or 15 s more have passed): the server's CPU over it, the deliveries, latency.
 */
async function measureWindow(
  server: BenchServer,
  load: LoadClients,
  expected: number,
  publish: () => Promise<void>,
): Promise<Omit<Measurement, 'scenario' | 'server' | 'offered'>> {
  const deliveredBefore = load.stats.delivered;
  load.stats.latencyUs.reset();
  const cpuBefore = server.cpuSeconds();
  const started = performance.now();
  await publish();
  await load.waitForDelivered(deliveredBefore + expected, 15_000);
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = server.cpuSeconds() - cpuBefore;
  const delivered = load.stats.delivered - deliveredBefore;
  const latency = percentiles(load.stats.latencyUs, 1000);
  return {
    expected,
    delivered,
    lost: expected - delivered,
    throughput: Math.round(delivered / elapsedS),
    cpuPerMillion: round((cpu / Math.max(1, delivered)) * 1e6),
    p50Ms: latency.p50,
    p99Ms: latency.p99,
    errors: errorSummary(load),
  };
}

export interface FanoutOptions {
  scenario: string;
  sockets: number;
  jobs: number;
  /** Jobs each socket watches (a wall display: many). */
  jobsPerSocket: number;
  /** Lines published per job per second, one window per rate, in this order. */
  ratesPerJob: number[];
  seconds: number;
  servers?: readonly ServerKind[];
}

/**
 * Sockets watching jobs while lines are published at rising rates: per server, one connection of
 * every socket, then one measured window per rate (CPU, latency, lines delivered or lost).
 */
export async function fanout(redis: Redis, redisUrl: string, o: FanoutOptions): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  const tag = o.scenario.replace(/\W+/g, '');
  for (const kind of o.servers ?? SERVER_KINDS) {
    const jobIds = Array.from({ length: o.jobs }, (_, i) => `${tag}-${kind}-${Date.now()}-${i}`);
    const publisher = await linePublisher(redis, kind, jobIds);
    const server = await BenchServer.start(kind, redisUrl);
    const load = new LoadClients({
      url: server.url,
      target: kind,
      sockets: o.sockets,
      jobIds,
      jobsPerSocket: o.jobsPerSocket,
      token: tokenOf,
    });
    try {
      progress(`${o.scenario} · ${kind} · connecting ${o.sockets} sockets`);
      await load.connect();
      await untilSubscribed(redis, kind, jobIds);
      for (const rate of o.ratesPerJob) {
        progress(`${o.scenario} · ${kind} · ${rate} lines/s per job for ${o.seconds} s`);
        const expected = Math.round(rate * o.seconds) * o.sockets * o.jobsPerSocket;
        const window = await measureWindow(server, load, expected, () =>
          atRate(rate, o.seconds, () => publisher.publishToAll()),
        );
        rows.push({
          scenario: o.scenario,
          server: kind,
          offered: rate * o.sockets * o.jobsPerSocket,
          ...window,
        });
      }
    } finally {
      load.close();
      await server.stop();
    }
  }
  return rows;
}

export interface BatchedOptions {
  sockets: number;
  jobs: number;
  linesPerSecondPerJob: number;
  seconds: number;
}

/**
 * Runners writing through `JobPublisher`, batching on (10 ms linger) and off (one line per
 * FCALL), at the same line rate, with the gateway delivering every line to its watchers.
 */
export async function batched(redis: Redis, redisUrl: string, o: BatchedOptions): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  const modes: [string, Partial<JobPublisherOptions>][] = [
    ['batched runners (10 ms linger)', {}],
    ['unbatched runners (1 line per FCALL)', { lingerMs: 0, maxBatchLines: 1 }],
  ];
  for (const [scenario, options] of modes) {
    const server = await BenchServer.start('gateway', redisUrl);
    const publishers = await Promise.all(
      Array.from({ length: o.jobs }, (_, i) =>
        JobPublisher.create(
          redis,
          { id: `batch-${Date.now()}-${options.lingerMs ?? 10}-${i}`, owner: 'bench', title: scenario },
          options,
        ),
      ),
    );
    for (const p of publishers) await p.start();
    const load = new LoadClients({
      url: server.url,
      target: 'gateway',
      sockets: o.sockets,
      jobIds: publishers.map((p) => p.jobId),
      token: tokenOf,
    });
    try {
      progress(`${scenario} · ${o.sockets} sockets, ${o.linesPerSecondPerJob} lines/s per job`);
      await load.connect();
      const slicesPerSecond = 20; // lines arrive as a stream, not one burst a second
      const perSlice = Math.max(1, Math.round(o.linesPerSecondPerJob / slicesPerSecond));
      const linesPerJob = perSlice * slicesPerSecond * o.seconds;
      const expected = linesPerJob * o.sockets;
      const window = await measureWindow(server, load, expected, async () => {
        await atRate(slicesPerSecond, o.seconds, async () => {
          for (const p of publishers) for (let k = 0; k < perSlice; k++) p.stdout(benchLine());
        });
        await Promise.all(publishers.map((p) => p.flush()));
      });
      rows.push({
        scenario,
        server: 'gateway',
        offered: o.linesPerSecondPerJob * o.sockets,
        ...window,
      });
    } finally {
      load.close();
      await Promise.all(publishers.map((p) => p.close()));
      await server.stop();
    }
  }
  return rows;
}

export interface IdleMeasurement {
  server: ServerKind;
  sockets: number;
  /** Time for every socket to connect (and, on the gateway, authenticate and subscribe). */
  stormSeconds: number;
  /** Connect time p99 of one socket during the storm. */
  connectP99Ms: number;
  /** Server RSS added per connected, subscribed socket, in KB. */
  rssPerSocketKb: number;
  failed: number;
}

/**
 * A connect-and-subscribe storm of `sockets` sockets (500 upgrades in flight), then the server's
 * memory per idle socket: RSS with every socket connected and subscribed, less RSS before.
 */
export async function idle(
  redis: Redis,
  redisUrl: string,
  o: { sockets: number; jobs: number; settleMs?: number },
): Promise<IdleMeasurement[]> {
  const rows: IdleMeasurement[] = [];
  for (const kind of SERVER_KINDS) {
    const jobIds = Array.from({ length: o.jobs }, (_, i) => `idle-${kind}-${Date.now()}-${i}`);
    await linePublisher(redis, kind, jobIds);
    const server = await BenchServer.start(kind, redisUrl);
    const settleMs = o.settleMs ?? 2000;
    await sleep(settleMs / 2); // let start-up allocation settle before the baseline
    const rssBefore = server.rssBytes();
    const load = new LoadClients({
      url: server.url,
      target: kind,
      sockets: o.sockets,
      jobIds,
      token: tokenOf,
      concurrency: 500,
    });
    try {
      progress(`idle · ${kind} · a storm of ${o.sockets} sockets`);
      const started = performance.now();
      await load.connect();
      const stormSeconds = (performance.now() - started) / 1000;
      await sleep(settleMs); // RSS after the storm's transient buffers are released
      const failed =
        [...load.stats.errors.values()].reduce((a, b) => a + b, 0) + (o.sockets - load.openSockets);
      rows.push({
        server: kind,
        sockets: o.sockets,
        stormSeconds: round(stormSeconds),
        connectP99Ms: percentiles(load.stats.connectMs).p99,
        rssPerSocketKb: round((server.rssBytes() - rssBefore) / o.sockets / 1024, 1),
        failed,
      });
    } finally {
      load.close();
      await server.stop();
    }
  }
  return rows;
}

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

function replayOnce(url: string, token: string, jobId: string, lines: number): Promise<number> {
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
