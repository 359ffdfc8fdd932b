/**
 * Test harness: a real gateway over a private redis-server (a standalone stack from
 * scripts/lib/stack.ts), and a WebSocket client that records frames and lets a test await the
 * frame it expects (events, not sleeps).
 */
import { WebSocket } from 'ws';
import type { ServerFrame } from '../../shared/protocol.js';
import type { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { signToken, type Role } from '../../shared/auth/tokens.js';
import { startStack, type Stack, type StackOptions } from '../../scripts/lib/stack.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { appendLines, setJobStatus } from '../../shared/redis/functions.js';
import type { GatewayConfig } from '../src/ops/config.js';
import type { Gateway, GatewayOptions } from '../src/server.js';

export const SECRET = 'test-secret-0123456789';

/** from, from + 1, …, to (empty when to < from). */
export const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/**
 * A runner writing lines 1…`total` to a running job in batches of 1…`maxBatch` lines drawn from
 * `random` (seeded), pausing after about a third of them so readers get turns, then ending the job
 * `success`: the load the replay→live switch is tested under. `written()`: lines stored so far.
 */
export function writeInRandomBatches(
  redis: RedisConnection,
  id: string,
  {
    total,
    random,
    maxBatch = 20,
    line = (seq: number) => `l${seq}`,
    pause = () => new Promise<void>((resolve) => setTimeout(resolve, 1)),
  }: {
    total: number;
    random: () => number;
    maxBatch?: number;
    line?: (seq: number) => string;
    pause?: () => Promise<void>;
  },
): { written: () => number; done: Promise<void> } {
  let written = 0;
  const done = (async () => {
    while (written < total) {
      const n = Math.min(1 + Math.floor(random() * maxBatch), total - written);
      await appendLines(
        redis,
        id,
        range(written + 1, written + n).map((seq) => ({ stream: 'stdout' as const, line: line(seq) })),
      );
      written += n;
      if (random() < 0.3) await pause();
    }
    await setJobStatus(redis, id, 'success');
  })();
  return { written: () => written, done };
}

/** A token for the tests' secret, valid an hour unless told otherwise. */
export function token(sub: string, role: Role = 'user', ttlSeconds = 3600): string {
  return signToken(SECRET, { sub, role }, ttlSeconds);
}

export interface Harness {
  stack: Stack;
  redis: PrivateRedis;
  gateway: Gateway;
  config: GatewayConfig;
  stop(): Promise<void>;
}

/** A clock a test moves forward (token expiry) instead of waiting. */
export class TestClock {
  skewMs = 0;
  now = (): number => Date.now() + this.skewMs;
  advance(ms: number): void {
    this.skewMs += ms;
  }
}

/** A standalone stack with the tests' secret (scripts/lib/stack.ts), for suites that need one topology. */
export async function startHarness(
  overrides: StackOptions['config'] = {},
  redis?: PrivateRedis,
  options: Pick<GatewayOptions, 'clock' | 'expiryTickMs'> = {},
): Promise<Harness> {
  const stack = await startStack({
    secret: SECRET,
    config: overrides,
    gateway: options,
    ...(redis ? { redis } : {}),
  });
  return {
    stack,
    redis: stack.redis!,
    gateway: stack.gateway,
    config: stack.config,
    stop: () => stack.stop(),
  };
}

export class TestClient {
  readonly frames: ServerFrame[] = [];
  private waiters: (() => void)[] = [];
  closeCode: number | null = null;
  private readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as ServerFrame);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  static async connect(
    url: string,
    options: { token?: string; via?: 'header' | 'subprotocol'; protocols?: string[]; origin?: string } = {},
  ): Promise<TestClient> {
    const protocols = options.protocols ?? ['jobstream.v1'];
    const headers: Record<string, string> = {};
    if (options.token && options.via !== 'subprotocol') headers.authorization = `Bearer ${options.token}`;
    if (options.token && options.via === 'subprotocol') protocols.push(`bearer.${options.token}`);
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, protocols, {
      headers,
      ...(options.origin ? { origin: options.origin } : {}),
    });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new UpgradeRefused(res.statusCode ?? 0)));
      ws.once('error', reject);
    });
    await client.waitFor((f) => f.type === 'hello');
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Waits until a frame matching `predicate` has arrived (searching all frames so far). */
  async waitFor<T extends ServerFrame = ServerFrame>(
    predicate: (f: ServerFrame) => boolean,
    timeoutMs = 5000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found as T;
      if (this.closeCode !== null)
        throw new Error(
          `socket closed (${this.closeCode}) while waiting; got ${JSON.stringify(this.frames.slice(-5))}`,
        );
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(
          `timed out waiting for a frame; last frames ${JSON.stringify(this.frames.slice(-5))}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForClose(timeoutMs = 5000): Promise<number> {
    return Promise.race([
      this.closed,
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error('socket did not close')), timeoutMs).unref(),
      ),
    ]);
  }

  framesFor(jobId: string): ServerFrame[] {
    return this.frames.filter((f) => 'jobId' in f && f.jobId === jobId);
  }

  /** Seqs of every output line received for a job, in arrival order. */
  seqs(jobId: string): number[] {
    return this.framesFor(jobId).flatMap((f) => (f.type === 'output' ? f.lines.map((l) => l.seq) : []));
  }

  close(): void {
    this.ws.terminate();
  }
}

export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

export async function upgradeStatus(
  url: string,
  options: Parameters<typeof TestClient.connect>[1],
): Promise<number> {
  try {
    const client = await TestClient.connect(url, options);
    client.close();
    return 101;
  } catch (error) {
    if (error instanceof UpgradeRefused) return error.status;
    throw error;
  }
}

/** Waits until `check` holds, polling (for states with no event to await: gauges, Redis counts). */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One sample of a gauge or counter from GET /metrics (labels as written, e.g. `{status="failed"}`). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

export interface HttpAnswer {
  status: number;
  /** The body as JSON, or null when it is not JSON. */
  body: unknown;
  text: string;
  headers: Headers;
}

/** GET `path` of `baseUrl`, with a bearer token when given. */
export async function httpGet(baseUrl: string, path: string, bearer?: string): Promise<HttpAnswer> {
  const res = await fetch(`${baseUrl}${path}`, {
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, text, headers: res.headers };
}
