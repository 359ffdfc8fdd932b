/**
 * The benchmark scenarios. Each runs against a private Redis, measures the jobstream gateway
 * (and, where the issue asks for a comparison, the bare relay and Socket.IO under the same offered
 * load, one after another), and returns rows of figures: no assertions, the machines are noisy.
 * `scripts/bench.ts` runs them from the command line; `scripts/bench/bench.test.ts` runs each one
 * tiny, to keep the code paths working (and every line delivered).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { eventsChannel } from '../../shared/keys.js';
import { JobPublisher, type JobPublisherOptions } from '../../shared/runner/publisher.js';
import { microsNow, stampedLine } from '../lib/line-stamp.js';
import { LoadClients, percentiles } from '../lib/load.js';
import { atRate, linePublisher } from './offered-load.js';
import { progress, round } from './progress.js';
import { BenchServer, SERVER_KINDS, tokenOf, type ServerKind } from './servers.js';

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

export { onProgress, stage } from './progress.js';

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
          for (const p of publishers) for (let k = 0; k < perSlice; k++) p.stdout(stampedLine(microsNow()));
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
