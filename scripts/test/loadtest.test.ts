/**
 * The load tester, end to end as a user runs it (`npm run loadtest`, a child process): against a
 * real gateway it reports zero loss; against a deliberately faulty server that drops one line and
 * repeats another it exits 1 naming both; through a real gateway restart and a reconnect storm
 * nothing is lost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocketServer } from 'ws';
import { PROTOCOL, type ClientFrame, type ServerFrame } from '../../shared/protocol.js';
import { startStack, type Stack } from '../lib/stack.js';

const SECRET = 'loadtest-secret';
const dir = mkdtempSync(join(tmpdir(), 'loadtest-'));

interface Run {
  code: number | null;
  output: string;
  summary: {
    opened: number;
    linesDelivered: number;
    published: number;
    subscriptions: number;
    subscriptionsDone: number;
    stormRecoveryMs: number | null;
    violations: { missing: number; repeated: number; 'out of order': number };
    firstViolations: string[];
    errors: Record<string, number>;
  };
}

/** Runs `npm run loadtest -- …` (node + tsx, as npm would) and reads its JSON report. */
function loadtest(args: string[], duringRun?: (output: () => string) => Promise<void>): Promise<Run> {
  const json = join(dir, `run-${Math.random().toString(36).slice(2)}.json`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/loadtest.ts', ...args, '--json', json], {
    env: { ...process.env, JWT_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const during = duringRun?.(() => output);
  return new Promise((resolve) =>
    child.once('close', async (code) => {
      await during;
      let summary: Run['summary'];
      try {
        summary = JSON.parse(readFileSync(json, 'utf8')) as Run['summary'];
      } catch {
        throw new Error(`no report (exit ${code}):\n${output}`);
      }
      resolve({ code, output, summary });
    }),
  );
}

describe('against a real gateway', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ secret: SECRET });
  }, 60_000);
  afterAll(() => stack.stop());
  const common = () => ['--url', stack.url, '--redis', stack.redis!.url, '--jobs', '4', '--rate', '40/s'];

  it('a short run over two processes reports every line delivered once', async () => {
    const run = await loadtest([
      ...common(),
      '--sockets',
      '300',
      '--processes',
      '2',
      '--subs-per-socket',
      '2',
      '--duration',
      '3s',
    ]);
    expect(run.code).toBe(0);
    expect(run.summary.opened).toBe(300);
    expect(run.summary.violations).toEqual({ missing: 0, repeated: 0, 'out of order': 0 });
    expect(run.summary.subscriptionsDone).toBe(600);
    expect(run.summary.linesDelivered).toBeGreaterThan(0);
    expect(run.output).toMatch(/correctness.*0 missing, 0 repeated, 0 out of order/);
  }, 60_000);

  it('through a gateway restart and a reconnect storm, nothing is lost', async () => {
    const run = await loadtest(
      [...common(), '--sockets', '200', '--duration', '8s', '--reconnect-storm-at', '6s'],
      async () => {
        // Once every socket is open on the gateway (its own count), restart it while they stream:
        // they get 1012, reconnect and resume with since.
        while (stack.gateway.sessions.size < 200) await new Promise((resolve) => setTimeout(resolve, 50));
        await new Promise((resolve) => setTimeout(resolve, 1000)); // a second of streaming first
        await stack.restartGateway();
      },
    );
    expect(run.summary.errors['close 1012']).toBe(200); // every socket went through the restart
    expect(run.code).toBe(0);
    expect(run.summary.violations).toEqual({ missing: 0, repeated: 0, 'out of order': 0 });
    expect(run.summary.subscriptionsDone).toBe(200);
    expect(run.summary.stormRecoveryMs).toBeGreaterThan(0);
  }, 90_000);

  it('cannot run without a token source or a target that answers: exit 2, saying why', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/loadtest.ts', '--url', stack.url, '--job-ids', 'x'],
      {
        env: { ...process.env, JWT_SECRET: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(output).toMatch(/JWT_SECRET/);
  }, 30_000);
});

describe('against a gateway on a Redis Cluster', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ secret: SECRET, topology: 'cluster' });
  }, 120_000);
  afterAll(() => stack.stop());

  it('--redis with the Cluster’s nodes creates and feeds the jobs through the Cluster client', async () => {
    const run = await loadtest([
      ...['--url', stack.url, '--redis', stack.cluster!.nodeList, '--jobs', '6', '--rate', '40/s'],
      ...['--sockets', '60', '--duration', '2s'],
    ]);
    expect(run.code).toBe(0);
    expect(run.summary.violations).toEqual({ missing: 0, repeated: 0, 'out of order': 0 });
    expect(run.summary.subscriptionsDone).toBe(60);
    expect(run.summary.linesDelivered).toBeGreaterThan(0);
  }, 90_000);
});

describe('against a faulty server', () => {
  /** Speaks jobstream.v1, but drops line 5 and sends line 8 twice. */
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer();
    const wss = new WebSocketServer({ server, handleProtocols: () => PROTOCOL });
    wss.on('connection', (ws) => {
      const send = (frame: ServerFrame): void => ws.send(JSON.stringify(frame));
      send({
        type: 'hello',
        protocol: PROTOCOL,
        heartbeatMs: 25_000,
        limits: { maxSubscriptions: 200, maxFrameBytes: 65_536, framesPerSecond: 20, burstFrames: 220 },
      });
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as ClientFrame;
        if (frame.type !== 'subscribe') return;
        const job = {
          id: frame.jobId,
          owner: 'x',
          title: 'faulty',
          status: 'running' as const,
          createdAt: 1,
          lastSeq: 0,
        };
        send({ type: 'status', jobId: frame.jobId, job });
        const seqs = [1, 2, 3, 4, 6, 7, 8, 8, 9, 10];
        send({
          type: 'output',
          jobId: frame.jobId,
          lines: seqs.map((seq) => ({ seq, ts: 0, stream: 'stdout', line: `l${seq}` })),
        });
        send({ type: 'done', jobId: frame.jobId, status: 'success', lastSeq: 10 });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('exits 1 and names the missing and the repeated line with job, seq and socket', async () => {
    const run = await loadtest(['--url', url, '--job-ids', 'victim', '--sockets', '1', '--duration', '1s']);
    expect(run.code).toBe(1);
    expect(run.summary.violations).toEqual({ missing: 1, repeated: 1, 'out of order': 0 });
    expect(run.summary.firstViolations.sort()).toEqual([
      'missing: job victim seq 5 socket 0',
      'repeated: job victim seq 8 socket 0',
    ]);
    expect(run.output).toContain('missing: job victim seq 5 socket 0');
  }, 30_000);
});
