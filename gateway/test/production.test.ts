/**
 * The production command, exactly as docs/operations.md gives it: `npm run gateway` runs the
 * compiled gateway as one process that receives its own signals. SIGTERM: /readyz turns 503
 * first, then every socket gets 1012, then the process exits 0 (npm with it) and leaves nothing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { freePort, PrivateRedis } from '../../shared/redis/private-server.js';
import { SECRET, token, TestClient } from './harness.js';

let redis: PrivateRedis;
beforeAll(async () => {
  // The test runs what production runs: the compiled JavaScript, not the TypeScript sources.
  execFileSync('npm', ['run', '--silent', 'build:server'], { stdio: 'inherit' });
  redis = await PrivateRedis.start();
}, 120_000);
afterAll(() => redis.stop());

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

it('SIGTERM to `npm run gateway`: /readyz 503, then 1012 to every socket, then exit 0', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const gateway = spawn('npm', ['run', 'gateway'], {
    env: {
      ...process.env,
      JWT_SECRET: SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      SHUTDOWN_DRAIN_MS: '1500',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
  await waitForOutput(gateway, /jobstream gateway on/);
  expect(await readyStatus(url)).toBe(200);
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(url, { token: token('alice') })));
  const closes = clients.map((c) => c.waitForClose(20_000));

  gateway.kill('SIGTERM'); // to npm itself, as a supervisor or container runtime would
  // Not ready first: the sockets are still open while /readyz already says 503.
  let status = await readyStatus(url);
  while (status === 200) status = await readyStatus(url);
  expect(status).toBe(503);
  expect(clients.map((c) => c.closeCode)).toEqual([null, null, null]);

  expect(await Promise.all(closes)).toEqual([1012, 1012, 1012]);
  expect(await exited).toBe(0);
  // nothing was left behind: the port is closed
  expect(await readyStatus(url)).toBe('refused');
}, 60_000);
