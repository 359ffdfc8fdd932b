/**
 * Many WebSocket clients for load tests and benchmarks, one load generator for every server
 * measured: the jobstream gateway (its protocol), a bare `ws` relay and Socket.IO (the engine.io
 * v4 wire protocol over a WebSocket, spoken here directly so that all three are driven by the same
 * code). Each socket watches `jobsPerSocket` consecutive jobs (from its index on, wrapping), so
 * every job has the same number of watchers. Latency is measured from a timestamp the publisher
 * writes into each line (line-stamp.ts), so every delivered line is timed, on one clock (same
 * machine), into an HDR histogram.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { build, type Histogram } from 'hdr-histogram-js';
import { WebSocket } from 'ws';
import { encodeClientFrame, peekErrorCode, peekFrameType } from '../../shared/frame-peek.js';
import { PROTOCOL } from '../../shared/protocol.js';
import { microsNow, stampsInFrame } from './line-stamp.js';

export type LoadTarget = 'gateway' | 'relay' | 'socketio';

export interface LoadOptions {
  /** ws://host:port */
  url: string;
  target: LoadTarget;
  sockets: number;
  jobIds: string[];
  /** Jobs each socket watches (default 1). */
  jobsPerSocket?: number;
  /** Gateway only: the token for socket i. */
  token?: (i: number) => string;
  /** Source addresses to spread sockets over (each gives ~28k ephemeral ports). */
  localAddresses?: string[];
  /** Upgrades in flight at once. */
  concurrency?: number;
}

export interface LoadStats {
  connectMs: Histogram;
  latencyUs: Histogram;
  delivered: number;
  errors: Map<string, number>;
}

/**
 * The one HDR histogram setup: connect times in ms (up to 10 minutes) and latencies in µs (up to
 * a minute), 3 significant digits, so histograms from every worker merge exactly.
 */
export const newConnectHistogram = (): Histogram =>
  build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
export const newLatencyHistogram = (): Histogram =>
  build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

export class LoadClients {
  readonly stats: LoadStats = {
    connectMs: newConnectHistogram(),
    latencyUs: newLatencyHistogram(),
    delivered: 0,
    errors: new Map(),
  };
  private readonly sockets: WebSocket[] = [];
  private subscribed = 0;

  constructor(private readonly options: LoadOptions) {}

  private error(kind: string): void {
    this.stats.errors.set(kind, (this.stats.errors.get(kind) ?? 0) + 1);
  }

  /** Opens every socket (and, on the gateway, waits for each subscription's `status`). */
  async connect(): Promise<void> {
    const { sockets, concurrency = 200 } = this.options;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < sockets) await this.open(next++);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, sockets) }, worker));
  }

  /** The jobs socket `i` watches. */
  jobsOf(i: number): string[] {
    const { jobIds, jobsPerSocket = 1 } = this.options;
    return Array.from({ length: jobsPerSocket }, (_, k) => jobIds[(i + k) % jobIds.length]!);
  }

  private open(i: number): Promise<void> {
    const { url, target, token, localAddresses } = this.options;
    const jobs = this.jobsOf(i);
    const started = performance.now();
    const localAddress = localAddresses?.[i % localAddresses.length];
    // One parameter, comma-separated: engine.io keeps only the last of a repeated query key.
    const query = `jobs=${jobs.map(encodeURIComponent).join(',')}`;
    const options = { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) } as const;
    const ws =
      target === 'gateway'
        ? new WebSocket(`${url}/ws`, [PROTOCOL], {
            headers: { authorization: `Bearer ${token!(i)}` },
            ...options,
          })
        : target === 'relay'
          ? new WebSocket(`${url}/?${query}`, options)
          : new WebSocket(`${url}/socket.io/?EIO=4&transport=websocket&${query}`, options);
    this.sockets.push(ws);
    return new Promise<void>((resolve) => {
      let ready = false;
      let statuses = 0;
      const done = (): void => {
        if (ready) return;
        ready = true;
        this.stats.connectMs.recordValue(Math.max(1, Math.round(performance.now() - started)));
        resolve();
      };
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        if (target === 'socketio' && this.engineIoControl(ws, text, done)) return;
        const type = target === 'gateway' ? peekFrameType(text) : undefined;
        if (!ready && target === 'gateway') {
          if (type === 'hello') {
            for (const jobId of jobs) ws.send(encodeClientFrame({ type: 'subscribe', jobId, tail: 0 }));
            return;
          }
          if (type === 'status') {
            if (++statuses === jobs.length) {
              this.subscribed++;
              done();
            }
            return;
          }
        }
        if (type === 'error') {
          this.error(`error frame ${peekErrorCode(text) ?? '?'}`);
          done(); // a refused subscription is counted, not waited for
        }
        const now = microsNow();
        for (const stamp of stampsInFrame(text)) {
          this.stats.latencyUs.recordValue(Math.max(1, now - stamp));
          this.stats.delivered++;
        }
      });
      ws.on('open', () => {
        if (target === 'relay') done();
      });
      ws.on('unexpected-response', (_req, res) => {
        this.error(`HTTP ${res.statusCode}`);
        done();
      });
      ws.on('error', (error: Error & { code?: string }) => {
        this.error(error.code ?? error.message);
        done();
      });
      ws.on('close', (code) => {
        if (!ready) {
          this.error(`closed before ready (${code})`);
          done(); // counted, not waited for: a server that died must not hang the run
        } else if (code !== 1000 && code !== 1005 && code !== 1006) this.error(`close ${code}`);
      });
    });
  }

  /**
   * Engine.io v4 / Socket.IO v5 packets other than events: `0{…}` open → connect to the main
   * namespace (`40`); `40{…}` connected (the rooms were joined in the connection handler, which
   * ran before this packet was sent); `2` ping → `3` pong. True when the packet was one of them.
   */
  private engineIoControl(ws: WebSocket, text: string, connected: () => void): boolean {
    if (text.startsWith('42')) return false;
    if (text.startsWith('0')) ws.send('40');
    else if (text.startsWith('40')) connected();
    else if (text === '2') ws.send('3');
    else if (text.startsWith('44')) this.error('socket.io connect_error');
    return true;
  }

  get openSockets(): number {
    return this.sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  }

  /** Resolves once `delivered` reaches `count` or `timeoutMs` passes. */
  async waitForDelivered(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.delivered < count && Date.now() < deadline) await sleep(50);
    return this.stats.delivered >= count;
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
  }
}

/** p50/p90/p99/max of a histogram, in its unit divided by `scale`. */
export function percentiles(h: Histogram, scale = 1): { p50: number; p90: number; p99: number; max: number } {
  const at = (p: number): number => Math.round((h.getValueAtPercentile(p) / scale) * 100) / 100;
  return { p50: at(50), p90: at(90), p99: at(99), max: Math.round((h.maxValue / scale) * 100) / 100 };
}
