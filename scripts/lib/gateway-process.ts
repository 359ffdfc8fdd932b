/**
 * A gateway in a process of its own, for what an in-process gateway cannot show: `kill -9`, and
 * the CPU one gateway burns (user + system time from /proc) while Redis is in trouble.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './private-redis.js';
import { ROOT } from './build.js';
import { cpuSeconds } from './processes.js';

export class GatewayProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly exited: Promise<number | null>,
  ) {}

  /**
   * Starts `gateway/src/main.ts` with `env` over a quiet default, resolving once it listens, on
   * `port` (a restart behind a load balancer that knows the old address) or a free one.
   */
  static async start(env: NodeJS.ProcessEnv, port?: number): Promise<GatewayProcess> {
    port ??= await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        LOG_LEVEL: 'error',
        HOST: '127.0.0.1',
        SHUTDOWN_DRAIN_MS: '0',
        ...env,
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway did not start: ${output}`)), 30_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('jobstream gateway on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the gateway exited (${code}): ${output}`));
      });
    });
    child.stdout?.resume();
    return new GatewayProcess(child, port, exited);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** User + system CPU seconds the process has used so far. */
  cpuSeconds(): number {
    return cpuSeconds(this.child.pid!);
  }

  /** `kill -9`: no shutdown, sockets simply drop. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, as an orchestrator stops it, and wait for the exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}
