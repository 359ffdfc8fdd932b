/**
 * The dashboard around the log, in a real browser against a real gateway: cancel from the job page
 * ending a real `jobrun` child, the wall read from across a room at 1920×1080, notifications, the
 * watch grid and the edges of the screen (the jobs table itself: jobs-list.test.ts).
 */
import { spawnJobrun } from '../../scripts/lib/jobrun-process.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import type { Redis } from 'ioredis';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { createJob, getJob, setJobStatus } from '../../shared/redis/functions.js';
import type { Stack } from '../../scripts/lib/stack.js';
import { startBrowserStack, stopBrowserStack } from './browser-stack.js';

let stack: Stack;
let redis: Redis;
let browser: Browser;

beforeAll(async () => {
  ({ stack, redis, browser } = await startBrowserStack());
}, 120_000);
afterAll(() => stopBrowserStack({ stack, browser }));

describe('cancel', () => {
  it('from the job page ends a real jobrun child: SIGTERM received, job cancelled, watchers see done', async () => {
    const id = `${stack.namespace()}-cancel`;
    const child = spawnJobrun(
      id,
      ['bash', '-c', 'trap "echo got SIGTERM; exit 143" TERM; echo started; while true; do sleep 0.1; done'],
      { env: { REDIS_URL: stack.redis!.url }, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // jobrun passes the command's output through: once it says "started", the job exists and runs.
    await new Promise<void>((resolve) => {
      let seen = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('started')) resolve();
      });
    });
    const page = await browser.newPage();
    const watcher = await browser.newPage();
    await page.goto(`${stack.url}/jobs/${id}#token=${stack.token('alice')}`);
    await watcher.goto(`${stack.url}/watch?jobs=${id}#token=${stack.token('alice')}`);
    await page.locator('[data-testid="lines"]').getByText('started').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Yes, cancel' }).click();
    await page
      .getByText('cancelling…')
      .or(page.getByText('cancelled', { exact: true }))
      .first()
      .waitFor();
    expect(await exited).toBe(130);
    await page.locator('.badge-cancelled').waitFor({ timeout: 10_000 });
    await watcher.getByTestId(`pane-${id}`).locator('.badge-cancelled').waitFor({ timeout: 10_000 });
    expect(await getJob(redis, id)).toMatchObject({ status: 'cancelled', cancelRequestedBy: 'alice' });
    await page.locator('[data-testid="lines"]').getByText('got SIGTERM').waitFor();
    await page.close();
    await watcher.close();
  }, 60_000);
});

describe('wall', () => {
  it('at 1920×1080: no navigation, titles ≥ 32 px, log lines ≥ 18 px, no scrollbar, failures first', async () => {
    const ns = stack.namespace();
    const publishers: JobPublisher[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await JobPublisher.create(redis, {
        id: `${ns}-wall-${i}`,
        owner: 'bob',
        title: `wall job ${i}`,
      });
      await p.start();
      for (let n = 1; n <= 80; n++) p.stdout(`wall ${i} line ${n}`);
      await p.flush();
      publishers.push(p);
    }
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`${stack.url}/wall#token=${stack.token('root', 'admin')}`);
    const tile = page.getByTestId(`tile-${ns}-wall-0`);
    await tile.getByText('wall 0 line 80').waitFor({ timeout: 10_000 });
    await publishers[3]!.finish(1, { errorMessage: 'tests failed' });
    const first = page.locator('.tile').first();
    await first.getByText('tests failed').waitFor({ timeout: 10_000 });
    expect(await first.getAttribute('data-testid')).toBe(`tile-${ns}-wall-3`);
    expect(await page.locator('nav').count()).toBe(0);
    // A kiosk: nothing to click on a tile; how things stand and a moving clock at the top.
    expect(await page.getByRole('button', { name: /cancel/i }).count()).toBe(0);
    const [running, failed] = ((await page.getByTestId('wall-totals').textContent()) ?? '')
      .match(/^(\d+) running · (\d+) failed$/)!
      .slice(1)
      .map(Number);
    expect(running).toBeGreaterThanOrEqual(3); // wall jobs 0–2 (other tests' may run too)
    expect(failed).toBeGreaterThanOrEqual(1); // wall job 3
    expect(await page.locator('.wall-head time').textContent()).toMatch(/\d{1,2}:\d{2}/);
    const px = (selector: string) =>
      tile
        .locator(selector)
        .first()
        .evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    expect(await px('.tile-title')).toBeGreaterThanOrEqual(32);
    expect(await px('.tile-log')).toBeGreaterThanOrEqual(18);
    const overflow = await page.evaluate(() => ({
      x: document.documentElement.scrollWidth > window.innerWidth,
      y: document.documentElement.scrollHeight > window.innerHeight,
    }));
    expect(overflow).toEqual({ x: false, y: false });
    // A tile asked for its last lines, not the whole log.
    const sent: string[] = [];
    const again = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    again.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
    await again.goto(`${stack.url}/wall#token=${stack.token('root', 'admin')}`);
    await again.getByTestId(`tile-${ns}-wall-0`).getByText('wall 0 line 80').waitFor({ timeout: 10_000 });
    expect(sent.some((f) => f.includes(`"jobId":"${ns}-wall-0","tail":40`))).toBe(true);
    for (const p of publishers.slice(0, 3)) await p.finish(0);
    for (const p of publishers) await p.close();
    await page.close();
    await again.close();
  }, 60_000);
});

describe('notifications', () => {
  it('opt-in (permission granted), a notification when a watched job ends, the count in the tab title', async () => {
    const ns = stack.namespace();
    const publishers: JobPublisher[] = [];
    for (const name of ['one', 'two']) {
      const p = await JobPublisher.create(redis, {
        id: `${ns}-${name}`,
        owner: 'alice',
        title: `notify ${name}`,
      });
      await p.start();
      publishers.push(p);
    }
    const context = await browser.newContext({ permissions: ['notifications'] });
    // Record what the page asks the browser to show (headless Chromium draws no notification).
    await context.addInitScript(() => {
      const Original = window.Notification;
      const shown: { title: string; body: string }[] = [];
      (window as unknown as { __notifications: typeof shown }).__notifications = shown;
      class Recording extends Original {
        constructor(title: string, options?: NotificationOptions) {
          super(title, options);
          shown.push({ title, body: options?.body ?? '' });
        }
      }
      window.Notification = Recording as typeof Notification;
    });
    const page = await context.newPage();
    await page.goto(`${stack.url}/watch?jobs=${ns}-one,${ns}-two#token=${stack.token('alice')}`);
    await page.waitForFunction(() => document.title === '(2 running) jobstream');
    await page.getByRole('button', { name: 'Notify me when jobs end' }).click();
    await page.getByRole('button', { name: 'Notifications on' }).waitFor();
    await publishers[0]!.finish(1, { errorMessage: 'tests failed' });
    await page.waitForFunction(() => document.title === '(1 running, 1 failed) jobstream');
    await page.waitForFunction(
      () => (window as unknown as { __notifications: unknown[] }).__notifications.length === 1,
    );
    const [shown] = await page.evaluate(
      () => (window as unknown as { __notifications: { title: string; body: string }[] }).__notifications,
    );
    expect(shown).toMatchObject({
      title: 'notify one: failed',
      body: expect.stringContaining('tests failed'),
    });
    expect(await page.locator('link[rel="icon"]').getAttribute('data-status')).toBe('failed');
    await publishers[1]!.finish(0);
    await page.waitForFunction(() => document.title === '(1 failed) jobstream');
    for (const p of publishers) await p.close();
    await context.close();
  }, 60_000);
});

describe('watch grid', () => {
  it('adds a job found by searching, and every running job at once', async () => {
    const owner = `${stack.namespace()}picker`;
    await createJob(redis, { id: `${owner}-done`, owner, title: 'Nightly picker target' });
    await setJobStatus(redis, `${owner}-done`, 'success');
    for (const i of [1, 2]) {
      await createJob(redis, { id: `${owner}-run${i}`, owner, title: `running ${i}` });
      await setJobStatus(redis, `${owner}-run${i}`, 'running');
    }
    const page = await browser.newPage();
    await page.goto(`${stack.url}/watch#token=${stack.token(owner)}`);
    await page.getByLabel('Add a job: search by title, owner or branch').fill('picker target');
    await page.getByRole('option').getByText('Nightly picker target').click();
    await page.getByTestId(`pane-${owner}-done`).waitFor();
    expect(page.url()).toContain(`jobs=${owner}-done`);
    await page.getByRole('button', { name: 'Watch all running jobs' }).click();
    await page.getByTestId(`pane-${owner}-run1`).waitFor();
    await page.getByTestId(`pane-${owner}-run2`).waitFor();
    expect(await page.locator('.pane').count()).toBe(3);
    // Three panes fill a 1440×900 screen: a 2×2 grid whose rows share its height, no page scroll.
    await page.setViewportSize({ width: 1440, height: 900 });
    const boxes = await page
      .locator('.pane')
      .evaluateAll((panes) =>
        panes
          .map((p) => p.getBoundingClientRect())
          .map((r) => ({ x: r.x, y: r.y, bottom: r.bottom, width: r.width })),
      );
    expect(new Set(boxes.map((b) => Math.round(b.y))).size).toBe(2); // two rows
    expect(boxes[0]!.width).toBeGreaterThan(600); // two columns of half the screen
    const bottom = Math.max(...boxes.map((b) => b.bottom));
    expect(bottom).toBeGreaterThan(800);
    expect(await page.evaluate(() => document.documentElement.scrollHeight <= window.innerHeight)).toBe(true);
    await page.close();
  }, 60_000);
});

describe('edges of the screen', () => {
  it('the wall marks a running job whose runner went silent', async () => {
    const id = `${stack.namespace()}-silent`;
    await createJob(redis, { id, owner: 'bob', title: 'silent runner' });
    await setJobStatus(redis, id, 'running'); // and never a heartbeat
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`${stack.url}/wall?silentS=1#token=${stack.token('root', 'admin')}`);
    await page
      .getByTestId(`tile-${id}`)
      .getByText(/no heartbeat for \d+ s/)
      .waitFor({ timeout: 10_000 });
    await setJobStatus(redis, id, 'failed', { errorMessage: 'runner lost' });
    await page.close();
  }, 60_000);

  it('on a phone (390 px): the jobs table becomes cards with no sideways scroll, the watch grid one column', async () => {
    const owner = `${stack.namespace()}phone`;
    for (const i of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
      await createJob(redis, {
        id: `${owner}-${i}`,
        owner,
        title: `a rather long job title number ${i} for a phone`,
        fields: { branch: 'feature/phone' },
      });
    await setJobStatus(redis, `${owner}-1`, 'running');
    await setJobStatus(redis, `${owner}-1`, 'failed', { exitCode: 2 });
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${stack.url}/#token=${stack.token(owner)}`);
    await page.getByTestId(`job-row-${owner}-1`).waitFor();
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    expect(await overflow()).toBe(false);
    expect(await page.locator('table.jobs thead').isVisible()).toBe(false);
    // Compact cards: most of a screen's worth of jobs shows at once (before: 3), each still saying
    // its title, status, owner, branch, start and exit code.
    const whole = await page.evaluate(
      () =>
        [...document.querySelectorAll('table.jobs tbody tr')].filter(
          (row) => row.getBoundingClientRect().bottom <= window.innerHeight,
        ).length,
    );
    expect(whole).toBeGreaterThanOrEqual(8);
    const card = page.getByTestId(`job-row-${owner}-1`);
    const text = (await card.innerText()).replace(/\s+/g, ' ');
    for (const part of ['a rather long job title number 1 for a phone', 'failed', owner, 'feature/phone'])
      expect(text).toContain(part);
    const exit = card.locator('td[data-label="Exit"]');
    expect(await exit.textContent()).toBe('2');
    expect(await exit.evaluate((td) => getComputedStyle(td, '::before').content)).toBe('"· exit "');
    await page.goto(`${stack.url}/watch?jobs=${owner}-1,${owner}-2`);
    await page.getByTestId(`pane-${owner}-2`).waitFor();
    const [a, b] = await Promise.all([1, 2].map((i) => page.getByTestId(`pane-${owner}-${i}`).boundingBox()));
    expect(b!.y).toBeGreaterThan(a!.y); // stacked, not side by side
    expect(a!.width).toBeGreaterThan(300);
    expect(await overflow()).toBe(false);
    await page.close();
  }, 60_000);

  it('an address with no page and a job one cannot see each say so, with a way back, never a raw code', async () => {
    const page = await browser.newPage();
    // Before: "Cannot GET /nowhere" from the server, or the jobs list for any unknown address.
    const answer = await page.goto(`${stack.url}/nowhere#token=${stack.token('alice')}`);
    expect(answer?.status()).toBe(404);
    await page.getByRole('heading', { name: 'No page here' }).waitFor();
    await page.getByRole('link', { name: 'See all jobs' }).click();
    await page.waitForURL(`${stack.url}/`);
    const api = await fetch(`${stack.url}/nowhere`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('not_found');
    // Before: "not_found: …" above an empty viewer with Download and Notify buttons.
    await page.goto(`${stack.url}/jobs/${stack.namespace()}-missing#token=${stack.token('alice')}`);
    await page.getByRole('heading', { name: /Job “.*-missing” not found/ }).waitFor({ timeout: 10_000 });
    expect(await page.getByRole('button', { name: 'Download' }).count()).toBe(0);
    expect(await page.getByText('not_found').count()).toBe(0);
    await page.close();
  }, 60_000);
});
