/**
 * npm run loadtest -- --url ws://127.0.0.1:8080 --sockets 5000 --jobs 10 [--rate 20] [--seconds 20]
 *                     [--processes 2] [--local-addresses 127.0.0.2,127.0.0.3] [--redis redis://…] [--json out.json]
 *
 * Drives many authenticated sockets at a gateway, each subscribed to one of `--jobs` jobs, and
 * reports connect times, delivered lines per second, publish→receive latency percentiles and
 * errors, as a table and JSON. With `--redis` it creates the jobs and publishes one line per job
 * `--rate` times a second itself (timestamped, so every delivered line is timed); without it, it
 * measures whatever the jobs' runners publish (latency then needs `bench <µs>` lines).
 * Tokens are minted with JWT_SECRET (role admin, one `sub` per 100 sockets, so the
 * gateway's per-user socket cap is not what is measured).
 *
 * One process holds at most ~19,000 sockets (the open file limit is 20,000): `--processes N`
 * splits the sockets over N worker processes, and `--local-addresses` spreads them over source
 * addresses so that no address runs out of ephemeral ports.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { appendLines, createJob, setJobStatus } from '../shared/redis/functions.js';
import { ensureLibrary } from '../shared/redis/library.js';
import { signToken } from '../shared/tokens.js';
import { benchLine, LoadClients, newConnectHistogram, newLatencyHistogram, percentiles } from './lib/load.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'ws://127.0.0.1:8080' },
    sockets: { type: 'string', default: '1000' },
    jobs: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    processes: { type: 'string', default: '1' },
    'local-addresses': { type: 'string' },
    redis: { type: 'string' },
    'job-prefix': { type: 'string', default: `load-${Date.now().toString(36)}` },
    json: { type: 'string' },
    worker: { type: 'string' }, // internal: this process is worker N
  },
});

interface WorkerReport {
  connectMs: string; // encoded HDR histograms
  latencyUs: string;
  delivered: number;
  open: number;
  errors: [string, number][];
}

const sockets = Number(args.sockets);
const processes = Math.max(1, Number(args.processes));
const jobIds = Array.from({ length: Number(args.jobs) }, (_, i) => `${args['job-prefix']}-${i}`);
const secret = process.env.JWT_SECRET;

/** A worker: opens its share of the sockets, waits for the parent's `stop`, reports. */
async function runWorker(index: number): Promise<void> {
  const share = Math.floor(sockets / processes) + (index < sockets % processes ? 1 : 0);
  const offset = index * Math.floor(sockets / processes);
  const clients = new LoadClients({
    url: args.url,
    target: 'gateway',
    sockets: share,
    jobIds,
    token: (i) => signToken(secret!, { sub: `load-${Math.floor((offset + i) / 100)}`, role: 'admin' }, 3600),
    ...(args['local-addresses'] ? { localAddresses: args['local-addresses'].split(',') } : {}),
  });
  await clients.connect();
  process.send!({ type: 'connected' });
  await new Promise<void>((resolve) =>
    process.on('message', (m: { type: string }) => m.type === 'stop' && resolve()),
  );
  const report: WorkerReport = {
    connectMs: encodeIntoCompressedBase64(clients.stats.connectMs),
    latencyUs: encodeIntoCompressedBase64(clients.stats.latencyUs),
    delivered: clients.stats.delivered,
    open: clients.openSockets,
    errors: [...clients.stats.errors],
  };
  clients.close();
  // The IPC channel keeps a worker alive: leave once the report is out.
  process.send!({ type: 'report', report }, () => process.exit(0));
}

async function publishLoad(redis: Redis, seconds: number, rate: number): Promise<number> {
  const started = performance.now();
  let published = 0;
  for (let tick = 0; tick < seconds * rate; tick++) {
    await Promise.all(jobIds.map((id) => appendLines(redis, id, [{ stream: 'stdout', line: benchLine() }])));
    published += jobIds.length;
    const wait = started + ((tick + 1) * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return published;
}

async function main(): Promise<void> {
  if (!secret) throw new Error('JWT_SECRET is required to mint the sockets’ tokens');
  if (args.worker !== undefined) return runWorker(Number(args.worker));

  const redis = args.redis ? new Redis(args.redis) : null;
  if (redis) {
    await ensureLibrary(redis);
    for (const id of jobIds) {
      await createJob(redis, { id, owner: 'loadtest', title: `load test ${id}` });
      await setJobStatus(redis, id, 'running');
    }
  }
  const self = fileURLToPath(import.meta.url);
  const workers = Array.from({ length: processes }, (_, i) =>
    // The job prefix defaults to a timestamp: every worker must use the parent's.
    fork(self, [...process.argv.slice(2), '--job-prefix', args['job-prefix'], '--worker', String(i)], {
      execArgv: ['--import', 'tsx'],
    }),
  );
  const reports: WorkerReport[] = [];
  const connectStarted = performance.now();
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const connectSeconds = (performance.now() - connectStarted) / 1000;
  console.log(
    `${sockets} sockets connected in ${connectSeconds.toFixed(2)} s; measuring for ${args.seconds} s…`,
  );

  const measureStarted = performance.now();
  const published = redis ? await publishLoad(redis, Number(args.seconds), Number(args.rate)) : 0;
  if (!redis) await sleep(Number(args.seconds) * 1000);
  await sleep(2000); // let the last lines land
  const measuredSeconds = (performance.now() - measureStarted) / 1000;
  for (const w of workers) {
    w.on('message', (m: { type: string; report?: WorkerReport }) => m.report && reports.push(m.report));
    w.send({ type: 'stop' });
  }
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));

  const connect = newConnectHistogram();
  const latency = newLatencyHistogram();
  const errors = new Map<string, number>();
  for (const r of reports) {
    // HDR histograms travel between processes in their compressed text form and merge exactly.
    connect.add(decodeFromCompressedBase64(r.connectMs));
    latency.add(decodeFromCompressedBase64(r.latencyUs));
    for (const [k, v] of r.errors) errors.set(k, (errors.get(k) ?? 0) + v);
  }
  const delivered = reports.reduce((n, r) => n + r.delivered, 0);
  const summary = {
    url: args.url,
    sockets,
    open: reports.reduce((n, r) => n + r.open, 0),
    processes,
    connectSeconds: Math.round(connectSeconds * 100) / 100,
    connectMs: percentiles(connect),
    published,
    expected: published * Math.floor(sockets / jobIds.length),
    delivered,
    linesPerSecond: Math.round(delivered / measuredSeconds),
    latencyMs: percentiles(latency, 1000),
    errors: Object.fromEntries(errors),
  };
  console.table({
    sockets: `${summary.open}/${sockets} open`,
    connect: `${summary.connectSeconds} s total; p50 ${summary.connectMs.p50} ms, p99 ${summary.connectMs.p99} ms`,
    delivered: `${delivered}${redis ? ` of ${summary.expected} expected` : ''}`,
    'lines/s': summary.linesPerSecond,
    latency: `p50 ${summary.latencyMs.p50} ms, p90 ${summary.latencyMs.p90} ms, p99 ${summary.latencyMs.p99} ms, max ${summary.latencyMs.max} ms`,
    errors: errors.size === 0 ? 'none' : [...errors].map(([k, v]) => `${k}×${v}`).join(', '),
  });
  console.log(JSON.stringify(summary));
  if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
  if (redis) {
    for (const id of jobIds) await setJobStatus(redis, id, 'success');
    redis.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(`loadtest: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
