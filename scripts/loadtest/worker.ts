/**
 * One load-test worker process: opens its share of the sockets (ramped), subscribes each to its
 * jobs, and checks every subscription exactly-once (tracker.ts) while measuring latency from each
 * line's scheduled send time. On command it closes a share of its sockets at once and reconnects
 * them (a reconnect storm), churns subscriptions, or stalls sockets. It reports to the
 * coordinator over IPC: progress every second, everything at the end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { WebSocket } from 'ws';
import { backoffDelay } from '../../shared/backoff.js';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  PROTOCOL,
  type ClientFrame,
  type ServerFrame,
} from '../../shared/protocol.js';
import { newConnectHistogram, newLatencyHistogram } from '../lib/load.js';
import { localAddressFor } from './options.js';
import { microsNow, scheduledMicros } from '../lib/line-stamp.js';
import { SubscriptionTracker, type Violation } from './tracker.js';
import type {
  CoordinatorCommand,
  WorkerMessage,
  WorkerProgress,
  WorkerReport,
  WorkerStart,
} from './messages.js';

interface LoadSocket {
  index: number;
  ws: WebSocket | null;
  subs: SubscriptionTracker[];
  attempt: number;
  /** Subscriptions waiting for their status after a (re)subscribe. */
  awaiting: Set<string>;
  opened: boolean;
  pingId: number;
  churnPending: Map<string, SubscriptionTracker>;
}

const send = (ws: WebSocket | null, frame: ClientFrame): void => {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
};

export class LoadWorker {
  private readonly sockets: LoadSocket[] = [];
  private readonly connectMs = newConnectHistogram();
  private readonly latencyUs = newLatencyHistogram();
  private readonly errors = new Map<string, number>();
  private stopping = false;
  private storm: { startedAt: number; waiting: Set<string>; recoveredMs: number | null } | null = null;
  private lines = 0;

  constructor(
    private readonly start: WorkerStart,
    private readonly post: (message: WorkerMessage) => void,
  ) {}

  async run(): Promise<void> {
    const { scenario, count } = this.start;
    const perSecond = scenario.rampPerSecond / this.start.processes;
    const began = performance.now();
    const opening: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      if (perSecond > 0) {
        const due = began + (i / perSecond) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      opening.push(this.open(i));
      // Bounded handshakes in flight: a connect storm of our own making would measure the backlog.
      if (opening.length % 200 === 0) await Promise.all(opening.splice(0));
    }
    await Promise.all(opening);
    this.post({ type: 'connected' });
  }

  private error(key: string): void {
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  private open(i: number): Promise<void> {
    const { jobIds, scenario, offset } = this.start;
    const index = offset + i;
    const subs = Array.from(
      { length: scenario.subsPerSocket },
      (_, k) => new SubscriptionTracker(jobIds[(index * scenario.subsPerSocket + k) % jobIds.length]!, index),
    );
    const socket: LoadSocket = {
      index,
      ws: null,
      subs,
      attempt: 0,
      awaiting: new Set(),
      opened: false,
      pingId: 0,
      churnPending: new Map(),
    };
    this.sockets.push(socket);
    return this.connect(socket);
  }

  private connect(socket: LoadSocket): Promise<void> {
    const { scenario, tokens } = this.start;
    const url = scenario.urls[socket.index % scenario.urls.length]!;
    const token = tokens[socket.index % tokens.length]!;
    const localAddress = localAddressFor(socket.index, scenario.localAddresses);
    const protocols =
      scenario.auth === 'subprotocol' ? [PROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${token}`] : [PROTOCOL];
    const started = performance.now();
    const ws = new WebSocket(url, protocols, {
      perMessageDeflate: false,
      ...(scenario.auth === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {}),
      ...(localAddress ? { localAddress } : {}),
    });
    socket.ws = ws;
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        resolve();
      };
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as ServerFrame;
        if (frame.type === 'hello') {
          this.connectMs.recordValue(Math.max(1, Math.round(performance.now() - started)));
          socket.opened = true;
          socket.attempt = 0;
          for (const sub of socket.subs) this.subscribe(socket, sub);
          settle();
          return;
        }
        this.receive(socket, frame);
      });
      ws.on('unexpected-response', (_request, response) => {
        this.error(`HTTP ${response.statusCode}`);
        settle();
      });
      ws.on('error', (error: Error & { code?: string }) => {
        this.error(error.code ?? error.message);
        settle();
      });
      ws.on('close', (code) => {
        settle();
        if (socket.ws !== ws) return;
        socket.ws = null;
        if (this.stopping) return;
        if (code !== 1006 && code !== 1005) this.error(`close ${code}`);
        // The gateway went away (1012) or the connection dropped: reconnect with backoff and resume.
        const delay = backoffDelay({ initialMs: 100, maxMs: 5000 }, socket.attempt++);
        setTimeout(() => void this.connect(socket), delay).unref();
      });
    });
  }

  private subscribe(socket: LoadSocket, sub: SubscriptionTracker): void {
    socket.awaiting.add(sub.jobId);
    // First time: only new lines; once the position is known: exactly the lines after it (a
    // reconnect before the first line must still get the lines published meanwhile).
    const frame: ClientFrame = sub.positioned
      ? { type: 'subscribe', jobId: sub.jobId, since: sub.lastSeq }
      : { type: 'subscribe', jobId: sub.jobId, tail: 0 };
    send(socket.ws, frame);
  }

  private subOf(socket: LoadSocket, jobId: string): SubscriptionTracker | undefined {
    return socket.subs.find((s) => s.jobId === jobId);
  }

  private receive(socket: LoadSocket, frame: ServerFrame): void {
    switch (frame.type) {
      case 'status': {
        this.subOf(socket, frame.jobId)?.started(frame.job.lastSeq);
        if (socket.awaiting.delete(frame.jobId)) this.streaming(socket, frame.jobId);
        return;
      }
      case 'output': {
        const sub = this.subOf(socket, frame.jobId);
        const now = microsNow();
        for (const line of frame.lines) {
          sub?.line(line.seq);
          this.lines++;
          const scheduled = scheduledMicros(line.line);
          if (scheduled !== null) this.latencyUs.recordValue(Math.max(1, now - scheduled));
        }
        return;
      }
      case 'gap':
        if ('jobId' in frame) this.subOf(socket, frame.jobId)?.gap(frame.fromSeq, frame.toSeq);
        return;
      case 'done':
        this.subOf(socket, frame.jobId)?.finished(frame.lastSeq);
        return;
      case 'error': {
        this.error(`error ${frame.code}`);
        const sub = frame.jobId === undefined ? undefined : this.subOf(socket, frame.jobId);
        if (sub && (frame.code === 'rate_limited' || frame.code === 'unavailable')) {
          const wait = frame.retryAfterMs ?? 500;
          setTimeout(() => this.subscribe(socket, sub), wait).unref();
        }
        return;
      }
      case 'pong': {
        // A churned subscription: every frame of the old one is in; subscribe again from there.
        const sub = socket.churnPending.get(String(frame.id));
        if (sub) {
          socket.churnPending.delete(String(frame.id));
          this.subscribe(socket, sub);
        }
        return;
      }
      default:
        return;
    }
  }

  private streaming(socket: LoadSocket, jobId: string): void {
    if (!this.storm) return;
    this.storm.waiting.delete(`${socket.index}/${jobId}`);
    if (this.storm.waiting.size === 0 && this.storm.recoveredMs === null)
      this.storm.recoveredMs = Math.round(performance.now() - this.storm.startedAt);
  }

  /** Closes a share of the sockets at once and reconnects them immediately, resuming with since. */
  reconnectStorm(fraction: number): void {
    const victims = this.sockets.filter((_, i) => i < Math.round(this.sockets.length * fraction));
    this.storm = { startedAt: performance.now(), waiting: new Set(), recoveredMs: null };
    for (const socket of victims)
      for (const sub of socket.subs) this.storm.waiting.add(`${socket.index}/${sub.jobId}`);
    if (this.storm.waiting.size === 0) this.storm.recoveredMs = 0;
    for (const socket of victims) {
      const ws = socket.ws;
      socket.ws = null; // its close is ours, not a fault: no backoff
      ws?.terminate();
      void this.connect(socket);
    }
  }

  /** Unsubscribes and resubscribes `count` subscriptions (resuming exactly where they were). */
  churn(count: number): void {
    for (let n = 0; n < count && this.sockets.length > 0; n++) {
      const socket = this.sockets[Math.floor(Math.random() * this.sockets.length)]!;
      const sub = socket.subs[Math.floor(Math.random() * socket.subs.length)]!;
      if (!socket.ws || socket.awaiting.has(sub.jobId)) continue;
      send(socket.ws, { type: 'unsubscribe', jobId: sub.jobId });
      const id = `churn-${++socket.pingId}`;
      socket.churnPending.set(id, sub);
      send(socket.ws, { type: 'ping', id });
    }
  }

  /** Stops reading on a share of the sockets for a while (their TCP buffers fill), then resumes. */
  stall(fraction: number, forMs: number): void {
    const stalled = this.sockets.filter(
      (_, i) => i % Math.max(1, Math.round(1 / Math.max(fraction, 1e-9))) === 0,
    );
    const paused: Duplex[] = [];
    for (const socket of fraction > 0 ? stalled : []) {
      const tcp = (socket.ws as unknown as { _socket?: Duplex } | null)?._socket;
      if (tcp) {
        tcp.pause();
        paused.push(tcp);
      }
    }
    setTimeout(() => paused.forEach((tcp) => tcp.resume()), forMs).unref();
  }

  progress(): WorkerProgress {
    return {
      allDone: this.allDone,
      open: this.sockets.filter((s) => s.ws?.readyState === WebSocket.OPEN).length,
      lines: this.lines,
      errors: [...this.errors.values()].reduce((a, b) => a + b, 0),
      latencyUs: encodeIntoCompressedBase64(this.latencyUs),
    };
  }

  get allDone(): boolean {
    return this.sockets.every((s) => s.subs.every((sub) => sub.done));
  }

  finish(): WorkerReport {
    this.stopping = true;
    const subs = this.sockets.flatMap((s) => s.subs);
    for (const sub of subs) sub.settle();
    const counts = { missing: 0, repeated: 0, 'out of order': 0 };
    const violations: Violation[] = [];
    for (const sub of subs) {
      counts.missing += sub.counts.missing;
      counts.repeated += sub.counts.repeated;
      counts['out of order'] += sub.counts['out of order'];
      if (violations.length < 50) violations.push(...sub.violations.slice(0, 50 - violations.length));
    }
    const report: WorkerReport = {
      opened: this.sockets.filter((s) => s.opened).length,
      open: this.sockets.filter((s) => s.ws?.readyState === WebSocket.OPEN).length,
      subscriptions: subs.length,
      done: subs.filter((s) => s.done).length,
      lines: this.lines,
      gapLines: subs.reduce((n, s) => n + s.gapLines, 0),
      connectMs: encodeIntoCompressedBase64(this.connectMs),
      latencyUs: encodeIntoCompressedBase64(this.latencyUs),
      violations,
      counts,
      errors: [...this.errors],
      stormRecoveryMs: this.storm?.recoveredMs ?? null,
    };
    for (const socket of this.sockets) socket.ws?.terminate();
    return report;
  }
}

/** The worker process's main: commands from the coordinator over IPC. */
export function runWorkerProcess(): void {
  let worker: LoadWorker | null = null;
  const post = (message: WorkerMessage): void => void process.send?.(message);
  const progressTimer = setInterval(
    () => worker && post({ type: 'progress', progress: worker.progress() }),
    1000,
  );
  process.on('message', (command: CoordinatorCommand) => {
    if (command.type === 'start') {
      worker = new LoadWorker(command.start, post);
      void worker.run();
    } else if (command.type === 'storm') worker?.reconnectStorm(command.fraction);
    else if (command.type === 'stall') worker?.stall(command.fraction, command.forMs);
    else if (command.type === 'churn') worker?.churn(command.count);
    else if (command.type === 'stop') {
      clearInterval(progressTimer);
      const report = worker?.finish();
      // The IPC channel keeps a worker alive: leave once the report is out.
      if (report) process.send?.({ type: 'report', report }, () => process.exit(0));
      else process.exit(0);
    }
  });
}
