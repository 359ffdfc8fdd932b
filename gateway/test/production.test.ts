/**
 * The production command, exactly as docs/operations.md gives it: `npm run gateway` runs the
 * compiled gateway as one process that receives its own signals. SIGTERM: /readyz turns 503
 * first, then every socket gets 1012, then the process exits 0 (npm with it) and leaves nothing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { appendLines, createJob } from '../../shared/redis/functions.js';
import { freePort, PrivateRedis } from '../../scripts/lib/private-redis.js';
import { buildDashboardIfStale, ROOT } from '../../scripts/lib/build.js';
import { SECRET, token, TestClient } from './harness.js';

let redis: PrivateRedis;
beforeAll(async () => {
  // The test runs what production runs: the compiled JavaScript, not the TypeScript sources.
  execFileSync('npm', ['run', '--silent', 'build:server'], { stdio: 'inherit' });
  redis = await PrivateRedis.start();
}, 120_000);
/** Every gateway started here; one a failed check left running would keep jest from exiting. */
const gateways = new Set<ChildProcess>();
afterAll(async () => {
  for (const gateway of gateways)
    if (gateway.exitCode === null && gateway.signalCode === null) process.kill(-gateway.pid!, 'SIGKILL');
  await redis.stop();
});

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${seen}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(seen);
      }
    };
    child.stdout?.on('data', onData);
  });
}

async function readyStatus(url: string): Promise<number | 'refused'> {
  try {
    return (await fetch(`${url}/readyz`)).status;
  } catch {
    return 'refused';
  }
}

/** Starts a gateway with `command` (as production would run it) and waits until it listens. */
async function startProductionGateway(
  command: string,
  args: string[],
  { cwd = ROOT, drainMs }: { cwd?: string; drainMs: number },
): Promise<{ gateway: ChildProcess; url: string; exited: Promise<number | null> }> {
  const port = await freePort();
  const gateway = spawn(command, args, {
    cwd,
    env: {
      ...process.env,
      JWT_SECRET: SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      SHUTDOWN_DRAIN_MS: String(drainMs),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group, so a cleanup reaches npm's child too
  });
  gateways.add(gateway);
  const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
  await waitForOutput(gateway, /jobstream gateway on/);
  return { gateway, url: `http://127.0.0.1:${port}`, exited };
}

it('SIGTERM to `npm run gateway`: /readyz 503, then 1012 to every socket, then exit 0', async () => {
  const { gateway, url, exited } = await startProductionGateway('npm', ['run', 'gateway'], { drainMs: 1500 });
  expect(await readyStatus(url)).toBe(200);
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(url, { token: token('alice') })));
  const closes = clients.map((c) => c.waitForClose(20_000));
  // A browser's preconnect: a connection that has sent nothing yet. Node's server.close() counts
  // it busy, so it held every shutdown for the whole 10 s deadline.
  const preconnect = connect(Number(new URL(url).port), '127.0.0.1');
  await once(preconnect, 'connect');
  const preconnectClosed = once(preconnect, 'close');
  preconnect.resume();

  const stopping = Date.now();
  gateway.kill('SIGTERM'); // to npm itself, as a supervisor or container runtime would
  // Not ready first: the sockets are still open while /readyz already says 503.
  let status = await readyStatus(url);
  while (status === 200) status = await readyStatus(url);
  expect(status).toBe(503);
  expect(clients.map((c) => c.closeCode)).toEqual([null, null, null]);

  expect(await Promise.all(closes)).toEqual([1012, 1012, 1012]);
  await preconnectClosed;
  expect(await exited).toBe(0);
  const stopMs = Date.now() - stopping;
  console.log(`SIGTERM to exit with a preconnected socket: ${stopMs} ms (drain 1500 ms)`);
  expect(stopMs).toBeLessThan(6000); // 11.5 s before: the drain, then the whole deadline
  // nothing was left behind: the port is closed
  expect(await readyStatus(url)).toBe('refused');
}, 60_000);

it('after npm run build and an install without dev dependencies, the gateway starts, serves, streams and stops', async () => {
  // What an image holds: the compiled gateway, the built dashboard, production dependencies only.
  const app = mkdtempSync(join(tmpdir(), 'jobstream-prod-'));
  try {
    const dist = buildDashboardIfStale();
    cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
    cpSync(dist, join(app, 'client', 'dist'), { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(ROOT, file), join(app, file));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: app,
      stdio: 'ignore',
    });
    expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false); // no TypeScript tooling in there

    const { gateway, url, exited } = await startProductionGateway(
      process.execPath,
      ['--enable-source-maps', 'dist/gateway/src/main.js'],
      { cwd: app, drainMs: 0 },
    );
    expect(await readyStatus(url)).toBe(200);
    expect((await fetch(`${url}/`)).headers.get('content-type')).toMatch(/text\/html/); // the dashboard

    const runner = redis.client();
    await createJob(runner, { id: 'prod-job', owner: 'alice', title: 'production' });
    const client = await TestClient.connect(url, { token: token('alice') });
    client.send({ type: 'subscribe', jobId: 'prod-job' });
    await client.waitFor((f) => f.type === 'status');
    await appendLines(runner, 'prod-job', [{ stream: 'stdout', line: 'from production' }]);
    await client.waitFor(() => client.seqs('prod-job').length === 1);

    gateway.kill('SIGTERM');
    expect(await client.waitForClose(10_000)).toBe(1012);
    expect(await exited).toBe(0);
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
}, 180_000);

it('the container recipe and the systemd unit run exactly the command tested above', () => {
  const tested = ['--enable-source-maps', 'dist/gateway/src/main.js'];
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  expect(pkg.scripts.gateway).toBe(`exec node ${tested.join(' ')}`);
  const unit = readFileSync(join(ROOT, 'deploy', 'jobstream-gateway.service'), 'utf8');
  expect(/^ExecStart=(.*)$/m.exec(unit)?.[1]).toBe(`/usr/bin/node ${tested.join(' ')}`);
  const dockerfile = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
  expect(/^CMD (.*)$/m.exec(dockerfile)?.[1]).toBe(JSON.stringify(['node', ...tested]).replaceAll(',', ', '));
});
