/**
 * A watcher as a resilient client is written: it follows jobs over one socket, keeps every line
 * it is given, resumes with `since` after any disconnect (through a load balancer, on whichever
 * gateway it lands), subscribes again after `unavailable`, and records every line that arrives
 * twice, out of order or after a hole, for the scale-out tests to assert on.
 */
import WebSocket from 'ws';
import type { ServerFrame } from '../../shared/protocol.js';

export class Follower {
  /** Line text by seq - 1, per job. */
  readonly lines = new Map<string, string[]>();
  readonly violations: string[] = [];
  readonly done = new Map<string, number>();
  reconnects = 0;
  private ws: WebSocket | null = null;
  private stopped = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly url: string,
    private readonly token: string,
    readonly jobIds: readonly string[],
  ) {
    for (const id of jobIds) this.lines.set(id, []);
  }

  start(): Promise<void> {
    return this.connect();
  }

  held(jobId: string): number {
    return this.lines.get(jobId)!.length;
  }

  /** Resolves when `check` holds, re-checked on every frame and reconnect. */
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        this.stop(); // a follower whose test gave up must not keep the process alive
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${this.url.replace('http', 'ws')}/ws`, ['jobstream.v1'], {
        headers: { authorization: `Bearer ${this.token}` },
      });
      this.ws = ws;
      ws.on('open', () => {
        for (const jobId of this.jobIds) this.subscribe(jobId);
        resolve();
      });
      ws.on('message', (data) => this.onFrame(JSON.parse(data.toString()) as ServerFrame));
      ws.on('error', () => undefined); // 'close' follows
      ws.on('close', () => {
        resolve();
        if (this.stopped) return;
        this.reconnects++;
        setTimeout(
          () => {
            if (!this.stopped) void this.connect();
          },
          100 + Math.random() * 200,
        );
      });
    });
  }

  private subscribe(jobId: string): void {
    if (this.done.has(jobId)) return;
    this.ws?.send(JSON.stringify({ type: 'subscribe', jobId, since: this.held(jobId) }));
  }

  private onFrame(frame: ServerFrame): void {
    if (frame.type === 'output') {
      const held = this.lines.get(frame.jobId);
      if (!held) return;
      for (const line of frame.lines) {
        if (line.seq === held.length + 1) held.push(line.line);
        else if (line.seq <= held.length) this.violations.push(`${frame.jobId}: seq ${line.seq} repeated`);
        else this.violations.push(`${frame.jobId}: seq ${line.seq} after ${held.length} (a hole)`);
      }
    } else if (frame.type === 'done') {
      this.done.set(frame.jobId, frame.lastSeq);
    } else if (frame.type === 'error' && frame.jobId && frame.code === 'unavailable') {
      const jobId = frame.jobId;
      setTimeout(() => this.subscribe(jobId), 250);
    }
    this.wake();
  }
}
