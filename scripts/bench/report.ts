/**
 * What a benchmark run prints and keeps: every measurement, one table of ratios (jobstream ÷ bare
 * relay, jobstream ÷ Socket.IO, medians of the runs with their spread), the JSON of all of it, and
 * an SVG chart (throughput, p99 and CPU per line against offered load, three servers) drawn with
 * Vega-Lite.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BrowserMeasurement } from './browser-scenario.js';
import type { ReplayMeasurement } from './replay-scenario.js';
import type { IdleMeasurement, Measurement } from './scenarios.js';
import { SERVER_NAMES, type ServerKind } from './servers.js';

export type Row = Record<string, string | number>;

export function printTable(title: string, rows: Row[]): void {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown): string => (v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(columns.map((c) => cell(row[c]))));
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
export const median = (xs: number[]): number => sorted(xs)[Math.floor(xs.length / 2)]!;
const r2 = (x: number): number => Math.round(x * 100) / 100;

/** `median [min–max]` of several runs, or the one value. */
export function spread(xs: number[]): string {
  if (xs.length === 0) return '';
  if (xs.length === 1) return String(r2(xs[0]!));
  const s = sorted(xs);
  return `${r2(median(xs))} [${r2(s[0]!)}–${r2(s[s.length - 1]!)}]`;
}

/** Measurements of one run, tagged with the run's number. */
export type RunMeasurement = Measurement & { run: number };

export function measurementRows(rows: RunMeasurement[]): Row[] {
  return rows.map((m) => ({
    scenario: m.scenario,
    run: m.run,
    server: SERVER_NAMES[m.server],
    'offered/s': m.offered,
    'delivered/s': m.throughput,
    lost: m.lost,
    'CPU s per 1M lines': m.cpuPerMillion,
    'p50 ms': m.p50Ms,
    'p99 ms': m.p99Ms,
    errors: m.errors || 0,
  }));
}

/**
 * Per scenario and offered load: the gateway's CPU per delivered line over each peer's, run by
 * run (the peers measured in the same run), as median [min–max]; p99 medians; lines lost.
 */
export function ratioRows(rows: RunMeasurement[]): Row[] {
  const keys = [...new Set(rows.map((m) => `${m.scenario}\u0000${m.offered}`))];
  return keys.map((key) => {
    const [scenario, offered] = key.split('\u0000') as [string, string];
    const at = rows.filter((m) => m.scenario === scenario && String(m.offered) === offered);
    const runs = [...new Set(at.map((m) => m.run))];
    const of = (server: ServerKind, run: number): Measurement | undefined =>
      at.find((m) => m.server === server && m.run === run);
    const ratio = (peer: ServerKind): number[] =>
      runs.flatMap((run) => {
        const g = of('gateway', run);
        const p = of(peer, run);
        return g && p && p.cpuPerMillion > 0 ? [g.cpuPerMillion / p.cpuPerMillion] : [];
      });
    const p99 = (server: ServerKind): string =>
      spread(at.filter((m) => m.server === server).map((m) => m.p99Ms));
    return {
      scenario,
      'offered/s': Number(offered),
      'CPU/line ÷ relay': spread(ratio('relay')),
      'CPU/line ÷ Socket.IO': spread(ratio('socketio')),
      'p99 ms jobstream': p99('gateway'),
      'p99 ms relay': p99('relay'),
      'p99 ms Socket.IO': p99('socketio'),
      'lines lost (all)': at.reduce((sum, m) => sum + m.lost, 0),
    };
  });
}

/** Batched ÷ unbatched runners' CPU per line (the gateway's), run by run. */
export function batchedRatioRows(rows: RunMeasurement[]): Row[] {
  const batched = rows.filter((m) => m.scenario.includes('runners'));
  if (batched.length === 0) return [];
  const cpu = (run: number, mode: string): number =>
    batched.find((m) => m.run === run && m.scenario.startsWith(mode))!.cpuPerMillion;
  const perRun = [...new Set(batched.map((m) => m.run))].map(
    (run) => cpu(run, 'batched') / cpu(run, 'unbatched'),
  );
  return [
    {
      scenario: 'batched ÷ unbatched runners (gateway)',
      'offered/s': batched[0]!.offered,
      'CPU/line ÷ relay': `batched ÷ unbatched: ${spread(perRun)}`,
      'lines lost (all)': batched.reduce((sum, m) => sum + m.lost, 0),
    },
  ];
}

export function idleRows(runs: IdleMeasurement[][]): Row[] {
  return runs.flat().map((r) => ({
    server: SERVER_NAMES[r.server],
    sockets: r.sockets,
    'storm s': r.stormSeconds,
    'connect p99 ms': r.connectP99Ms,
    'RSS KB per socket': r.rssPerSocketKb,
    failed: r.failed,
  }));
}

/** The gateway's RSS per socket and storm time over each peer's, run by run. */
export function idleRatioRows(runs: IdleMeasurement[][], sockets: number): Row[] {
  type Field = 'rssPerSocketKb' | 'stormSeconds';
  const of = (kind: ServerKind, field: Field): number[] =>
    runs.map((rows) => rows.find((r) => r.server === kind)![field]);
  const ratio = (field: Field, peer: ServerKind): string =>
    spread(of('gateway', field).map((g, i) => g / of(peer, field)[i]!));
  return [
    {
      scenario: `idle: RSS per subscribed socket (${sockets})`,
      'CPU/line ÷ relay': `RSS ÷ relay: ${ratio('rssPerSocketKb', 'relay')}`,
      'CPU/line ÷ Socket.IO': `RSS ÷ Socket.IO: ${ratio('rssPerSocketKb', 'socketio')}`,
    },
    {
      scenario: `connect-and-subscribe storm (${sockets})`,
      'CPU/line ÷ relay': `time ÷ relay: ${ratio('stormSeconds', 'relay')}`,
      'CPU/line ÷ Socket.IO': `time ÷ Socket.IO: ${ratio('stormSeconds', 'socketio')}`,
    },
  ];
}

export function replayRatioRow(replay: ReplayMeasurement): Row {
  return {
    scenario: `replay ${replay.lines} lines (median of ${replay.runsMs.gateway.length})`,
    'CPU/line ÷ relay': `gateway ${replay.gatewayMs} ms ÷ LRANGE ${replay.lrangeMs} ms = ${r2(replay.gatewayMs / replay.lrangeMs)}`,
  };
}

export function browserRow(b: BrowserMeasurement, seconds: number): Row {
  return {
    scenario: `browser: 3 jobs × 1,000 lines/s for ${seconds} s`,
    'CPU/line ÷ relay': `frame p95 ${b.frames.p95ms} ms, ${b.longTasks.count} long tasks`,
    'lines lost (all)': b.delivered.reduce((sum, d) => sum + (b.expectedPerJob - d.lastSeq), 0),
  };
}

/** Throughput, p99 and CPU per line against offered load, a line per server, a column per scenario. */
export async function fanoutChart(rows: RunMeasurement[], title: string): Promise<string> {
  const values = rows.map((m) => ({
    scenario: m.scenario,
    server: SERVER_NAMES[m.server],
    offered: m.offered,
    throughput: m.throughput,
    p99: m.p99Ms,
    cpu: m.cpuPerMillion,
  }));
  const panel = (field: 'throughput' | 'p99' | 'cpu', label: string, scale: 'linear' | 'log') => ({
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'offered', type: 'quantitative' as const, title: 'offered deliveries/s' },
      y: {
        aggregate: 'median' as const,
        field,
        type: 'quantitative' as const,
        title: label,
        scale: { type: scale },
      },
      color: { field: 'server', type: 'nominal' as const, title: null },
    },
    width: 260,
    height: 180,
  });
  const scenarios = [...new Set(values.map((v) => v.scenario))];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    hconcat: scenarios.map((scenario) => ({
      title: scenario,
      transform: [{ filter: { field: 'scenario', equal: scenario } }],
      vconcat: [
        panel('throughput', 'delivered lines/s (median)', 'linear'),
        panel('p99', 'p99 latency ms (median)', 'log'),
        panel('cpu', 'server CPU-s per 1M lines (median)', 'linear'),
      ],
    })),
    config: { font: 'sans-serif', legend: { orient: 'bottom', labelLimit: 300 } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
