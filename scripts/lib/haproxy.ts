/**
 * HAProxy in front of gateways, from the reference configuration `deploy/haproxy.cfg` (addresses
 * from the environment). For other than three gateways the server lines are written out for the
 * number asked; everything else is the reference as it is.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './private-redis.js';
import { ROOT } from './build.js';

export const REFERENCE_CONFIG = join(ROOT, 'deploy', 'haproxy.cfg');

/** The reference configuration with server lines for `count` gateways (JOBSTREAM_GW1…N). */
export function haproxyConfig(count: number): string {
  const servers = Array.from(
    { length: count },
    (_, i) => `    server gw${i + 1} "\${JOBSTREAM_GW${i + 1}}" check\n`,
  );
  return readFileSync(REFERENCE_CONFIG, 'utf8').replace(/( {4}server gw\d+ .*\n)+/, servers.join(''));
}

export function haproxyInstalled(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

export class HaproxyProcess {
  private constructor(
    private readonly process: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    readonly statsPort: number,
  ) {}

  /** Starts HAProxy for `gateways` (host:port each) and resolves once it routes to a ready one. */
  static async start(gateways: string[]): Promise<HaproxyProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'jobstream-haproxy-'));
    const config = haproxyConfig(gateways.length);
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const port = await freePort();
    const statsPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      JOBSTREAM_LB_BIND: `127.0.0.1:${port}`,
      JOBSTREAM_LB_STATS: `127.0.0.1:${statsPort}`,
      // Two descriptors per connection within this machine's 20,000 open files.
      JOBSTREAM_LB_MAXCONN: process.env.JOBSTREAM_LB_MAXCONN ?? '9000',
    };
    gateways.forEach((address, i) => (env[`JOBSTREAM_GW${i + 1}`] = address));
    // -db: stay in the foreground (this process owns it); its own process group for a clean stop.
    const child = spawn('haproxy', ['-db', '-f', file], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    child.unref();
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const proxy = new HaproxyProcess(child, dir, port, statsPort);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${errors}`);
      const ready = await fetch(`${proxy.url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return proxy;
      if (Date.now() > deadline) throw new Error(`haproxy routes to no ready gateway: ${errors}`);
      await sleep(100);
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null) {
      const closed = new Promise((resolve) => this.process.once('close', resolve));
      this.process.kill('SIGTERM');
      await closed;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
