/**
 * A private `redis-server` started and stopped by this process, on a free port, with no
 * persistence (or AOF for fault tests). Every test file runs its own — tests never touch the Redis
 * at 6379, so they can kill and restart theirs and never see each other's keys — and `npm start`
 * runs one when no Redis answers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { redisServerArgs } from './redis-server-args.js';

export interface PrivateRedisOptions {
  /** `appendonly yes` with fsync always, so that data survives `restart()`. */
  aof?: boolean;
  /** A cluster node (see PrivateRedisCluster), with its own nodes.conf in its folder. */
  cluster?: boolean;
  /** cluster-node-timeout: how long a primary may be unreachable before its replica takes over. */
  clusterNodeTimeoutMs?: number;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** The offset of a cluster node's bus port from its client port (Redis's default). */
const CLUSTER_BUS_OFFSET = 10_000;

/** A free port whose cluster bus port (port + 10000, at most 65535) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + CLUSTER_BUS_OFFSET > 65_535) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port + CLUSTER_BUS_OFFSET, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (busFree) return port;
  }
}

/**
 * One PING over a plain socket: true when Redis answers PONG. (An ioredis probe leaves its
 * connect-timeout timer running after a refused connection, which keeps a test process alive.)
 */
export function answersPing(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

export class PrivateRedis {
  private process: ChildProcess | null = null;
  private readonly clients = new Set<Redis>();

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly options: PrivateRedisOptions,
  ) {}

  static async start(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const dir = mkdtempSync(join(tmpdir(), 'jobstream-redis-'));
    // A port found free can be taken before redis-server binds it (tests start servers in
    // parallel), and a cluster node also binds port + 10000 for its bus: try another port then.
    for (let attempt = 1; ; attempt++) {
      const port = options.cluster ? await freeClusterPort() : await freePort();
      const redis = new PrivateRedis(port, dir, options);
      try {
        await redis.startProcess();
        return redis;
      } catch (error) {
        if (attempt >= 5 || !/Address already in use/.test((error as Error).message)) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A connection that `stop()` closes; tests need not track it. */
  client(options: RedisOptions = {}): Redis {
    const client = new Redis({ port: this.port, host: '127.0.0.1', ...options });
    this.clients.add(client);
    client.once('end', () => this.clients.delete(client));
    return client;
  }

  /** A fresh key prefix for one test, so tests sharing a server never see each other's jobs. */
  namespace(): string {
    return `t${randomUUID().slice(0, 8)}`;
  }

  private async startProcess(): Promise<void> {
    const args = redisServerArgs({
      port: this.port,
      dir: this.dir,
      aof: this.options.aof ?? false,
      ...(this.options.cluster ? { cluster: { nodeTimeoutMs: this.options.clusterNodeTimeoutMs } } : {}),
    });
    // Its own process group: a Ctrl-C meant for `npm start` must not kill Redis before the
    // stack has stopped in order; stop() ends it explicitly.
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.unref();
    this.process = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Ready when it answers PING (polling a socket is the only readiness signal redis-server gives).
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
      if (await answersPing(this.port)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not start: ${output}`);
      await sleep(25);
    }
  }

  /** Kills the server (SIGKILL: a crash, not a clean shutdown). Clients see the connection drop. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    // 'close', not 'exit': the output pipes are closed too, so nothing keeps the test process alive.
    const closed = new Promise((resolve) => child.once('close', resolve));
    // The process was unref'd (it must not keep a caller alive), so nothing would keep the event
    // loop alive until it closes: a caller awaiting stop() as its last step would end mid-await,
    // silently, with status 0 (seen as `npm run bench` printing nothing). Held while it stops.
    child.ref();
    child.kill('SIGKILL');
    await closed;
    this.process = null;
  }

  /** Starts the server again on the same port (and, with AOF, the same data). */
  async restart(): Promise<void> {
    await this.kill();
    await this.startProcess();
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
