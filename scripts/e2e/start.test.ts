/**
 * `npm start` end to end: the real entry point, a Redis it is given (REDIS_URL) or one it starts
 * itself (discovery pointed at a port where nothing listens), the printed sign-in link opened in
 * Chromium, a demo job seen streaming, then SIGINT and no process left behind.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { freePort, PrivateRedis } from '../lib/private-redis.js';
import { launchBrowser } from '../lib/browser.js';
import { alive } from '../lib/processes.js';
import { buildDashboardIfStale, ROOT } from '../lib/build.js';

let browser: Browser;
beforeAll(async () => {
  buildDashboardIfStale();
  browser = await launchBrowser();
}, 120_000);
afterAll(() => browser?.close());

/** Every descendant pid of `pid` (children, grandchildren, …). */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

const commandOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '?';
  }
};

interface Started {
  child: ChildProcess;
  link: string;
  exited: Promise<number | null>;
  output: () => string;
}

/** `npm start`'s entry point on `port`, resolved once it printed alice's sign-in link. */
async function startNpmStart(env: NodeJS.ProcessEnv, port: number): Promise<Started> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const link = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no sign-in link printed:\n${output}`)), 60_000);
      child.stdout!.on('data', () => {
        const match = /Open as alice[^\n]*\n\s*(http:\/\/\S+#token=\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      void exited.then(() => reject(new Error(`npm start exited:\n${output}`)));
    });
    return { child, link, exited, output: () => output };
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw error;
  }
}

async function runStart(env: NodeJS.ProcessEnv): Promise<void> {
  const port = await freePort();
  const { child, link, exited, output: outputNow } = await startNpmStart(env, port);
  try {
    expect(link.startsWith(`http://127.0.0.1:${port}/`)).toBe(true);

    const page = await browser.newPage();
    await page.goto(link);
    // a demo job of alice's appears on the jobs page; open it and watch lines arrive
    const firstJob = page.locator('table.jobs a').first();
    await firstJob.waitFor({ timeout: 30_000 }).catch(async (error: Error) => {
      // Say what the page and npm start showed, so a failure can be understood from the log.
      const shown =
        (await page
          .locator('main')
          .textContent()
          .catch(() => null)) ?? '(no page)';
      throw new Error(
        `${error.message}\npage: ${shown.slice(0, 500)}\nnpm start: ${outputNow().slice(-2000)}`,
      );
    });
    await firstJob.click();
    const lines = page.locator('[data-testid="lines"] .line');
    await lines.first().waitFor({ timeout: 30_000 });
    await page.close();

    const family = descendants(child.pid!).map((pid) => ({ pid, command: commandOf(pid) }));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // Helpers such as tsx's esbuild service exit when their parent's pipe closes, a moment
    // after it; nothing may still be running after a short grace period. (A process that is
    // not our child has no exit event to await, so this polls, with a deadline.)
    const deadline = Date.now() + 5000;
    while (family.some((p) => alive(p.pid)) && Date.now() < deadline) await sleep(50);
    expect(family.filter((p) => alive(p.pid))).toEqual([]);
    expect(outputNow()).toContain('stopping');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('npm start', () => {
  it('uses the Redis in REDIS_URL, serves a signed-in dashboard with live demo jobs, stops cleanly', async () => {
    const redis = await PrivateRedis.start();
    try {
      await runStart({ REDIS_URL: redis.url });
      // the demo wrote its jobs into the given Redis
      expect(await redis.client().zcard('jobs:index')).toBeGreaterThan(0);
    } finally {
      await redis.stop();
    }
  }, 120_000);

  it('starts a private redis-server when none answers, and stops it on exit', async () => {
    const nothing = await freePort();
    await runStart({ REDIS_URL: '', JOBSTREAM_REDIS_PROBE: `redis://127.0.0.1:${nothing}` });
  }, 120_000);

  it('restarted, keeps open tabs signed in and streaming (the dev secret is kept, not made anew)', async () => {
    const redis = await PrivateRedis.start();
    const port = await freePort();
    const env = { REDIS_URL: redis.url, JWT_SECRET: undefined };
    const first = await startNpmStart(env, port);
    const page = await browser.newPage();
    try {
      await page.goto(first.link);
      await page.locator('table.jobs a').first().click();
      const held = () =>
        page.evaluate(() => {
          const socket = (window as unknown as { __jobstream: { getState(): string } }).__jobstream;
          return socket.getState();
        });
      await page.locator('[data-testid="lines"] .line').first().waitFor({ timeout: 30_000 });
      first.child.kill('SIGINT');
      expect(await first.exited).toBe(0);
      await page.waitForFunction(
        () =>
          (window as unknown as { __jobstream: { getState(): string } }).__jobstream.getState() !== 'open',
      );
      const second = await startNpmStart(env, port);
      try {
        // The tab reconnects by itself with the token it had: same secret, so it is accepted.
        await page.waitForFunction(
          () =>
            (window as unknown as { __jobstream: { getState(): string } }).__jobstream.getState() === 'open',
          undefined,
          { timeout: 30_000 },
        );
        expect(await held()).toBe('open');
        expect(await page.getByRole('dialog', { name: 'Sign in again' }).count()).toBe(0);
        // And the token in local storage still signs the origin in: a fresh job streams.
        await page.goto(`http://127.0.0.1:${port}/`);
        await page.locator('table.jobs a').first().click();
        await page.locator('[data-testid="lines"] .line').first().waitFor({ timeout: 30_000 });
        expect(await page.getByText('Sign in to jobstream').count()).toBe(0);
      } finally {
        second.child.kill('SIGINT');
        await second.exited;
      }
    } finally {
      await page.close();
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      await redis.stop();
    }
  }, 180_000);
});
