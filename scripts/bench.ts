/**
 * npm run bench [-- --only publisher,fanout,replay] [--sockets 2000] [--jobs 10] [--rate 20] [--seconds 15]
 *
 * The benchmark scenarios, each against a private redis-server, printed as a table and written
 * as JSON to bench-results/. Figures, not assertions: the machines are noisy, so compare ratios
 * measured in the same run.
 * - publisher: lines/s JobPublisher sustains into Redis, batching on and off.
 * - fanout: sockets over jobs, 1 line per publish; the gateway against a bare `ws` relay under the
 *   same load: server CPU-seconds per million delivered lines, publish→receive latency.
 * - replay: a 100,000-line job, subscribe → `done` through the gateway, against a bare LRANGE.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { WebSocket } from 'ws';
import { countOutputLines, encodeClientFrame, peekFrameType } from '../shared/frame-peek.js';
import { outputKey } from '../shared/keys.js';
import { PROTOCOL } from '../shared/protocol.js';
import { JobPublisher } from '../shared/publisher.js';
import { appendLines, createJob, setJobStatus } from '../shared/redis/functions.js';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../shared/redis/library.js';
import { freePort, PrivateRedis } from '../shared/redis/private-server.js';
import { signToken } from '../shared/tokens.js';
import { ROOT } from './lib/build.js';
import { benchLine, LoadClients, percentiles } from './lib/load.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'publisher,fanout,replay' },
    sockets: { type: 'string', default: '2000' },
    jobs: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '15' },
    'replay-lines': { type: 'string', default: '100000' },
  },
});
const SECRET = 'bench-secret';
const CLOCK_TICKS = 100; // USER_HZ on Linux
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function spawnServer(kind: 'gateway' | 'relay', port: number, redisUrl: string): Promise<ChildProcess> {
  const child =
    kind === 'gateway'
      ? // BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway under load.
        spawn(
          process.execPath,
          [
            ...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
            '--import',
            'tsx',
            'gateway/src/main.ts',
          ],
          {
            cwd: ROOT,
            env: {
              ...process.env,
              PORT: String(port),
              HOST: '127.0.0.1',
              REDIS_URL: redisUrl,
              JWT_SECRET: SECRET,
              LOG_LEVEL: 'warn',
              MAX_SOCKETS_PER_USER: '0',
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        )
      : spawn(process.execPath, ['--import', 'tsx', 'scripts/lib/bare-relay.ts', String(port), redisUrl], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => /ready|gateway on/.test(chunk.toString()) && resolve());
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
  });
  return child;
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

type Row = Record<string, string | number>;
const results: { scenario: string; rows: Row[] }[] = [];

async function benchPublisher(redis: PrivateRedis): Promise<void> {
  const client = redis.client();
  const rows: Row[] = [];
  for (const [mode, lines, options] of [
    ['batching on (10 ms linger, ≤1000 lines)', 200_000, {}],
    ['batching off (1 line per FCALL)', 20_000, { lingerMs: 0, maxBatchLines: 1 }],
  ] as const) {
    const runs: number[] = [];
    for (let run = 0; run < 3; run++) {
      const publisher = await JobPublisher.create(
        client,
        { id: `pub-${mode.slice(0, 12).replace(/\W/g, '')}-${run}`, owner: 'bench', title: mode },
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
    rows.push({ mode, lines, 'lines/s (median of 3)': Math.round(median(runs)) });
  }
  results.push({ scenario: 'publisher', rows });
}

async function benchFanout(redis: PrivateRedis): Promise<void> {
  const sockets = Number(args.sockets);
  const jobCount = Number(args.jobs);
  const rate = Number(args.rate); // publishes per second per job
  const seconds = Number(args.seconds);
  const client = redis.client();
  const rows: Row[] = [];
  for (const kind of ['relay', 'gateway'] as const) {
    const jobIds = Array.from({ length: jobCount }, (_, i) => `fan-${kind}-${i}`);
    for (const id of jobIds) {
      await createJob(client, { id, owner: 'bench', title: id });
      await setJobStatus(client, id, 'running');
    }
    const port = await freePort();
    const server = await spawnServer(kind, port, redis.url);
    const load = new LoadClients({
      url: `ws://127.0.0.1:${port}`,
      target: kind,
      sockets,
      jobIds,
      token: (i) => signToken(SECRET, { sub: `user${i % 50}`, role: 'admin' }, 3600),
    });
    const connectStarted = performance.now();
    await load.connect();
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    await sleep(500); // let the relay's lazy SUBSCRIBEs land
    const cpuBefore = cpuSeconds(server.pid!);
    const publishes = rate * seconds;
    const tickMs = 1000 / rate;
    const started = performance.now();
    for (let tick = 0; tick < publishes; tick++) {
      await Promise.all(
        jobIds.map((id) => appendLines(client, id, [{ stream: 'stdout', line: benchLine() }])),
      );
      const due = started + (tick + 1) * tickMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const expected = publishes * sockets;
    const complete = await load.waitForDelivered(expected, 15_000);
    const cpu = cpuSeconds(server.pid!) - cpuBefore;
    const latency = percentiles(load.stats.latencyUs, 1000);
    rows.push({
      server: kind === 'gateway' ? 'jobstream gateway' : 'bare ws relay',
      sockets,
      'connect s': Math.round(connectSeconds * 100) / 100,
      delivered: load.stats.delivered,
      complete: complete ? 'yes' : `no (${expected})`,
      'lines/s': Math.round(load.stats.delivered / ((performance.now() - started) / 1000)),
      'CPU s per 1M lines': Math.round((cpu / load.stats.delivered) * 1e6 * 100) / 100,
      'p50 ms': latency.p50,
      'p99 ms': latency.p99,
      'max ms': latency.max,
      errors: [...load.stats.errors].map(([k, v]) => `${k}×${v}`).join(' ') || 0,
    });
    load.close();
    await stopServer(server);
  }
  const [relay, gateway] = rows;
  results.push({
    scenario: 'fanout',
    rows: [
      ...rows,
      {
        server: 'gateway ÷ relay',
        'CPU s per 1M lines':
          Math.round((Number(gateway!['CPU s per 1M lines']) / Number(relay!['CPU s per 1M lines'])) * 100) /
          100,
        'p99 ms': Math.round((Number(gateway!['p99 ms']) - Number(relay!['p99 ms'])) * 100) / 100,
      },
    ],
  });
}

async function benchReplay(redis: PrivateRedis): Promise<void> {
  const lines = Number(args['replay-lines']);
  const client = redis.client();
  const id = 'replay-big';
  await createJob(client, { id, owner: 'bench', title: 'big log' });
  await setJobStatus(client, id, 'running');
  for (let i = 0; i < lines; i += 1000) {
    await appendLines(
      client,
      id,
      Array.from({ length: 1000 }, (_, k) => ({
        stream: 'stdout' as const,
        line: `2026-11-28T05:00:00Z step ${i + k}: compiling src/module-${(i + k) % 700}.ts … ok`,
      })),
    );
  }
  await setJobStatus(client, id, 'success');
  const port = await freePort();
  const server = await spawnServer('gateway', port, redis.url);
  const token = signToken(SECRET, { sub: 'bench', role: 'admin' }, 3600);
  const gatewayRuns: number[] = [];
  const lrangeRuns: number[] = [];
  for (let run = 0; run < 5; run++) {
    gatewayRuns.push(await replayOnce(port, token, id, lines));
    const started = performance.now();
    const all = await client.lrange(outputKey(id), 0, -1);
    lrangeRuns.push(performance.now() - started);
    if (all.length !== lines) throw new Error(`LRANGE read ${all.length}`);
  }
  await stopServer(server);
  const g = median(gatewayRuns);
  const l = median(lrangeRuns);
  results.push({
    scenario: 'replay',
    rows: [
      { path: `gateway: subscribe → done (${lines} lines)`, 'median ms': Math.round(g) },
      { path: 'bare LRANGE 0 -1 from Node (ioredis)', 'median ms': Math.round(l) },
      { path: 'gateway ÷ LRANGE', 'median ms': Math.round((g / l) * 100) / 100 },
    ],
  });
}

function replayOnce(port: number, token: string, jobId: string, lines: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, [PROTOCOL], {
      headers: { authorization: `Bearer ${token}` },
    });
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

function printTable(title: string, rows: Row[]): void {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown): string => (v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(columns.map((c) => cell(row[c]))));
}

async function main(): Promise<void> {
  const only = new Set(args.only.split(','));
  const redis = await PrivateRedis.start();
  try {
    await loadLibrary(redis.client(), DEFAULT_LIBRARY_CONFIG);
    if (only.has('publisher')) await benchPublisher(redis);
    if (only.has('fanout')) await benchFanout(redis);
    if (only.has('replay')) await benchReplay(redis);
  } finally {
    await redis.stop();
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  console.log(`\njobstream benchmarks · ${meta.date} · node ${meta.node}\n\`${meta.command}\``);
  for (const { scenario, rows } of results) printTable(scenario, rows);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  const file = join(ROOT, 'bench-results', `bench-${meta.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ ...meta, results }, null, 2));
  console.log(`\nJSON: ${file}`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
