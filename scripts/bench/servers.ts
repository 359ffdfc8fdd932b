/**
 * The three servers every benchmark scenario measures, each in a process of its own so that its
 * CPU (user + system time) and memory (RSS) are its own: the jobstream gateway, a bare `ws` relay
 * and Socket.IO 4 with the Redis adapter (both peers in scripts/bench/peers/).
 */
import { signToken } from '../../shared/auth/tokens.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../lib/private-redis.js';
import { ROOT } from '../lib/build.js';
import { cpuSeconds, rssBytes } from '../lib/processes.js';

export type ServerKind = 'gateway' | 'relay' | 'socketio';
export const SERVER_KINDS: readonly ServerKind[] = ['gateway', 'relay', 'socketio'];
export const SERVER_NAMES: Record<ServerKind, string> = {
  gateway: 'jobstream gateway',
  relay: 'bare ws relay',
  socketio: 'Socket.IO 4 + Redis adapter',
};

/** The HS256 secret of the gateway under test (the load generator signs with it). */
export const BENCH_SECRET = 'bench-secret';

function entryPoint(kind: ServerKind): string {
  if (kind === 'gateway') return 'gateway/src/main.ts';
  return kind === 'relay' ? 'scripts/bench/peers/bare-relay.ts' : 'scripts/bench/peers/socketio.ts';
}

export class BenchServer {
  private constructor(
    readonly kind: ServerKind,
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  /**
   * Starts a server on a free port against `redisUrl` (with `env` over the defaults), resolving
   * once it listens.
   * BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway under load
   * (with BENCH_PEERS_TOO=1, the peers as well, to compare profiles).
   */
  static async start(kind: ServerKind, redisUrl: string, env: NodeJS.ProcessEnv = {}): Promise<BenchServer> {
    const port = await freePort();
    const nodeArgs =
      kind === 'gateway' || process.env.BENCH_PEERS_TOO
        ? (process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ') ?? [])
        : [];
    const args = [...nodeArgs.filter(Boolean), '--import', 'tsx', entryPoint(kind)];
    const child = spawn(process.execPath, kind === 'gateway' ? args : [...args, String(port), redisUrl], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: redisUrl,
        JWT_SECRET: BENCH_SECRET,
        LOG_LEVEL: 'warn',
        MAX_SOCKETS_PER_USER: '0',
        SHUTDOWN_DRAIN_MS: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        if (!/ready|gateway on/.test(chunk.toString())) return;
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`${SERVER_NAMES[kind]} exited with ${code}`)));
    });
    return new BenchServer(kind, child, port);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  cpuSeconds(): number {
    return cpuSeconds(this.child.pid!);
  }

  rssBytes(): number {
    return rssBytes(this.child.pid!);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Tokens for 50 users, signed once: the load generator's own cost stays out of the storm. */
const tokens = Array.from({ length: 50 }, (_, i) =>
  signToken(BENCH_SECRET, { sub: `user${i}`, role: 'admin' }, 3600),
);
export const tokenOf = (i: number): string => tokens[i % tokens.length]!;
