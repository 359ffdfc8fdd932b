/**
 * npm run bench [-- --only fanout,wall,batched,idle,replay,browser,publisher,jobrun,archive,ingest,cli] [--runs 3] [--seconds 10]
 *   [--fanout 2000x10@10,20,40 --fanout 10000x100@2,4,8] [--wall 200x100x50@2,4]
 *   [--batched 100x10@500] [--storm 15000] [--replay-lines 100000] [--browser-seconds 30]
 *   [--chart docs/benchmarks-fanout.svg] [--servers gateway,relay,socketio]
 *
 * Every scenario of docs/benchmarks.md, against a private redis-server, in one run: the jobstream
 * gateway against a bare `ws` relay and Socket.IO 4 + its Redis adapter under the same offered
 * load and the same load generator. Prints every measurement and one table of ratios (medians of
 * `--runs` runs, with their spread), writes the JSON to bench-results/ and an SVG chart of the
 * fan-out scenarios. Figures, not assertions: the machines are noisy, so read ratios measured in
 * the same run.
 *   --fanout SxJ@R,R…      S sockets over J jobs, one job each, R lines per job per second (rising)
 *   --wall SxJxK@R,R…      S sockets each watching K of J jobs
 *   --batched SxJ@L        S sockets over J jobs, L lines/s per job, JobPublisher batching on and off
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readCommandLine } from './lib/cli.js';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../shared/redis/library.js';
import { PrivateRedis } from './lib/private-redis.js';
import { ROOT } from './lib/build.js';
import {
  batchedRatioRows,
  browserRow,
  fanoutChart,
  idleRatioRows,
  idleRows,
  measurementRows,
  printTable,
  ratioRows,
  replayRatioRow,
  type Row,
  type RunMeasurement,
} from './bench/report.js';
import * as scenarios from './bench/scenarios.js';
import { browser } from './bench/browser-scenario.js';
import { replay } from './bench/replay-scenario.js';
import { archiveRows, archiveScenario } from './bench/archive-scenario.js';
import { ingest, ingestRows, type IngestRow } from './bench/ingest-scenario.js';
import { cliRows, cliScenario, type CliMeasurement } from './bench/cli-scenario.js';
import { jobrunThroughput, publisherThroughput } from './bench/runner-scenarios.js';
import { SERVER_KINDS, type ServerKind } from './bench/servers.js';

const { values: args } = readCommandLine(
  {
    usage:
      'usage: npm run bench [-- --only fanout,wall,batched,idle,replay,browser,publisher,jobrun,archive,ingest,cli] [--runs 3] [--seconds 10] …',
    description: `
Every scenario of docs/benchmarks.md against a private redis-server: the jobstream gateway, a
bare ws relay and Socket.IO under the same load. Prints the measurements and a table of ratios
(medians of --runs runs, with their spread), writes JSON to bench-results/ and an SVG chart.

  --only LIST          scenarios to run (default: all of them)
  --runs N             runs of each, for medians and spreads (default 3)
  --seconds S          length of each timed run (default 10)
  --fanout SxJ@R,…     sockets x jobs @ lines a second per job (repeatable)
  --wall SxJxW@R       the wall display scenario
  --batched SxJ@R      batched appends
  --storm N            sockets in the reconnect storm
  --replay-lines N     lines in the replay scenario
  --browser-seconds S  length of the browser scenario
  --chart FILE         where the SVG chart goes
  --servers LIST       gateway,relay,socketio (default: all three)
  -h, --help           this text`,
  },
  {
    options: {
      only: {
        type: 'string',
        default: 'fanout,wall,batched,idle,replay,browser,publisher,jobrun,archive,ingest,cli',
      },
      runs: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '10' },
      fanout: { type: 'string', multiple: true, default: ['2000x10@10,20,40', '10000x100@2,4,8'] },
      wall: { type: 'string', default: '200x100x50@2,4' },
      batched: { type: 'string', default: '100x10@500' },
      storm: { type: 'string', default: '15000' },
      'replay-lines': { type: 'string', default: '100000' },
      'browser-seconds': { type: 'string', default: '30' },
      chart: { type: 'string' },
      servers: { type: 'string', default: 'gateway,relay,socketio' },
    },
  },
);

/** `2000x10@10,20` → [[2000, 10], [10, 20]]. */
function shape(spec: string): [number[], number[]] {
  const [dims, rates = ''] = spec.split('@');
  const parse = (list: string, sep: string): number[] => list.split(sep).filter(Boolean).map(Number);
  const parsed: [number[], number[]] = [parse(dims ?? '', 'x'), parse(rates, ',')];
  if ([...parsed[0], ...parsed[1]].some((n) => !Number.isFinite(n) || n <= 0))
    throw new Error(`not a scenario shape: ${spec}`);
  return parsed;
}

const only = new Set(args.only.split(','));
const runs = Number(args.runs);
const seconds = Number(args.seconds);
const servers = args.servers
  .split(',')
  .filter((k): k is ServerKind => (SERVER_KINDS as string[]).includes(k));
const results: Record<string, unknown> = {};
const measurements: RunMeasurement[] = [];

async function main(): Promise<void> {
  const redis = (privateRedis = await PrivateRedis.start());
  const client = redis.client();
  const ratios: Row[] = [];
  try {
    await loadLibrary(client, DEFAULT_LIBRARY_CONFIG);
    for (let run = 1; run <= runs; run++) {
      if (only.has('fanout'))
        for (const spec of args.fanout) {
          const [[sockets = 0, jobs = 0], rates] = shape(spec);
          const rows = await scenarios.fanout(client, redis.url, {
            scenario: `fan-out ${sockets}×${jobs}`,
            sockets,
            jobs,
            jobsPerSocket: 1,
            ratesPerJob: rates,
            seconds,
            servers,
          });
          measurements.push(...rows.map((m) => ({ ...m, run })));
        }
      if (only.has('wall')) {
        const [[sockets = 0, jobs = 0, perSocket = 0], rates] = shape(args.wall);
        const rows = await scenarios.fanout(client, redis.url, {
          scenario: `wall ${sockets} sockets × ${perSocket} of ${jobs} jobs`,
          sockets,
          jobs,
          jobsPerSocket: perSocket,
          ratesPerJob: rates,
          seconds,
          servers,
        });
        measurements.push(...rows.map((m) => ({ ...m, run })));
      }
      if (only.has('batched')) {
        const [[sockets = 0, jobs = 0], [linesPerSecondPerJob = 0]] = shape(args.batched);
        const rows = await scenarios.batched(client, redis.url, {
          sockets,
          jobs,
          linesPerSecondPerJob,
          seconds,
        });
        measurements.push(...rows.map((m) => ({ ...m, run })));
      }
    }
    ratios.push(...ratioRows(measurements.filter((m) => !m.scenario.includes('runners'))));
    ratios.push(...batchedRatioRows(measurements));
    if (only.has('idle')) {
      const idleRuns: scenarios.IdleMeasurement[][] = [];
      for (let run = 1; run <= runs; run++)
        idleRuns.push(await scenarios.idle(client, redis.url, { sockets: Number(args.storm), jobs: 100 }));
      results.idle = idleRuns;
      printTable('idle sockets and the connect storm (every run)', idleRows(idleRuns));
      ratios.push(...idleRatioRows(idleRuns, Number(args.storm)));
    }
    if (only.has('replay')) {
      const replayed = await replay(client, redis.url, {
        lines: Number(args['replay-lines']),
        runs: 5,
      });
      results.replay = replayed;
      ratios.push(replayRatioRow(replayed));
    }
    if (only.has('publisher'))
      results.publisher = await publisherThroughput(client, { lines: 200_000, runs: 3 });
    if (only.has('jobrun'))
      results.jobrun = await jobrunThroughput(client, redis.url, { lines: 1_000_000, runs });
    if (only.has('ingest')) {
      const ingestRuns: IngestRow[][] = [];
      for (let run = 1; run <= runs; run++)
        for (const paceMs of [null, 500])
          ingestRuns.push(await ingest(client, redis.url, { runners: 100, batch: 100, seconds, paceMs }));
      results.ingest = ingestRuns;
    }
    if (only.has('cli'))
      results.cli = await cliScenario(client, redis.url, {
        lines: Number(args['replay-lines']),
        runs: Math.max(runs, 3),
      });
    if (only.has('archive'))
      results.archive = await archiveScenario(client, redis.url, {
        lines: Number(args['replay-lines']),
        runs,
        ingestRate: 30_000,
        seconds,
      });
  } finally {
    await redis.stop();
  }
  if (only.has('browser')) {
    const b = await browser({ seconds: Number(args['browser-seconds']), rate: 1000, jobs: 3 });
    results.browser = b;
    ratios.push(browserRow(b, Number(args['browser-seconds'])));
  }

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  console.log(`\njobstream benchmarks · ${meta.date} · node ${meta.node}\n\`${meta.command}\``);
  if (measurements.length > 0) printTable('every measurement', measurementRows(measurements));
  if (results.publisher) printTable('runner side: JobPublisher into Redis', results.publisher as Row[]);
  if (results.jobrun) printTable('runner side: jobrun around seq 1 1000000', results.jobrun as Row[]);
  if (results.ingest)
    printTable(
      'HTTP ingest against direct Redis runners (100 runners x 100-line batches)',
      ingestRows(results.ingest as IngestRow[][]),
    );
  if (results.archive)
    printTable(
      'the archive (docs/benchmarks.md "Archive")',
      archiveRows(results.archive as Parameters<typeof archiveRows>[0]),
    );
  if (results.cli)
    printTable(
      `the CLI: a finished ${Number(args['replay-lines']).toLocaleString('en-US')}-line job to a file (docs/benchmarks.md "The CLI")`,
      cliRows(results.cli as CliMeasurement),
    );
  if (ratios.length > 0) printTable(`ratios (jobstream ÷ peer, median [min–max] of ${runs} runs)`, ratios);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  const stamp = meta.date.replace(/[:.]/g, '-');
  const file = join(ROOT, 'bench-results', `bench-${stamp}.json`);
  writeFileSync(file, JSON.stringify({ ...meta, measurements, ratios, ...results }, null, 2));
  console.log(`\nJSON: ${file}`);
  const fanouts = measurements.filter((m) => !m.scenario.includes('runners'));
  if (fanouts.length > 0) {
    const chart = args.chart ?? join(ROOT, 'bench-results', `bench-${stamp}.svg`);
    mkdirSync(dirname(chart), { recursive: true });
    writeFileSync(
      chart,
      await fanoutChart(
        fanouts,
        `jobstream vs bare ws relay vs Socket.IO · ${meta.date.slice(0, 10)} · median of ${runs} runs`,
      ),
    );
    console.log(`chart: ${chart}`);
  }
  // Exit once stdout has been written out (a pipe is written asynchronously).
  process.stdout.write('', () => process.exit(0));
}

/** The run's redis-server, stopped on every way out (it runs detached). */
let privateRedis: PrivateRedis | null = null;

// The event loop emptied with the run unfinished (something awaited what can no longer happen):
// say where, and fail, rather than end silently with status 0.
process.on('beforeExit', () => {
  console.error(`bench stalled during: ${scenarios.stage}`);
  void privateRedis?.stop(); // sends its SIGKILL before the first await
  process.exit(1);
});
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
