/**
 * The dashboard in a real browser (Debian Chromium via playwright-core) against a real gateway
 * and Redis: one WebSocket for many jobs, live lines, status changes, done, a gateway restart
 * mid-stream with every line exactly once afterwards, and the wall picking up a new job.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import type { Redis } from 'ioredis';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import type { Role } from '../../shared/protocol.js';
import type { Stack } from '../../scripts/lib/stack.js';
import { startBrowserStack, stopBrowserStack, waitForSeqs } from './browser-stack.js';

let stack: Stack;
let redis: Redis;
let browser: Browser;

const token = (sub: string, role: Role = 'user') => stack.token(sub, role);

beforeAll(async () => {
  ({ stack, redis, browser } = await startBrowserStack());
}, 120_000);
afterAll(() => stopBrowserStack({ stack, browser }));

/** Seqs the page's socket holds for a job (the viewer is virtualised; the store has them all). */
function heldSeqs(page: Page, jobId: string): Promise<number[]> {
  return page.evaluate((id) => {
    const socket = (
      window as unknown as {
        __jobstream: { store(id: string): { getSnapshot(): { lines: { seq: number }[] } } | null };
      }
    ).__jobstream;
    return (
      socket
        .store(id)
        ?.getSnapshot()
        .lines.map((l) => l.seq) ?? []
    );
  }, jobId);
}

async function newJob(owner: string, title: string): Promise<JobPublisher> {
  const publisher = await JobPublisher.create(redis, {
    id: `${stack.namespace()}-${title.replace(/\W/g, '')}`,
    owner,
    title,
  });
  await publisher.start();
  return publisher;
}

describe('dashboard', () => {
  it('watches three jobs over one WebSocket, live, through a gateway restart, every line exactly once', async () => {
    const publishers = await Promise.all(['alpha', 'beta', 'gamma'].map((t) => newJob('alice', `job ${t}`)));
    const ids = publishers.map((p) => p.jobId);
    let written = 0;
    const writeAll = async (n: number) => {
      for (let i = 0; i < n; i++) {
        written++;
        for (const p of publishers) p.stdout(`${p.jobId} line ${written}`);
      }
      await Promise.all(publishers.map((p) => p.flush()));
    };
    await writeAll(20);

    const page = await browser.newPage();
    // Sockets that were served (said hello); attempts refused while the gateway was down don't count.
    const sockets: string[] = [];
    page.on('websocket', (ws) => {
      let counted = false;
      ws.on('framereceived', () => {
        if (!counted) sockets.push(ws.url());
        counted = true;
      });
    });
    await page.goto(`${stack.url}/watch?jobs=${ids.join(',')}#token=${token('alice')}`);
    for (const id of ids) await waitForSeqs(page, id, 20);
    // the token left the address bar
    expect(page.url()).not.toContain('token=');

    // live lines show up in each pane
    await writeAll(5);
    for (const id of ids) {
      await page
        .locator(`[data-testid="pane-${id}"]`)
        .getByText(`${id} line 25`)
        .waitFor({ timeout: 10_000 });
    }
    expect(sockets).toHaveLength(1);

    // a status change shows without reload
    await publishers[0]!.finish(0);
    await page.locator(`[data-testid="pane-${ids[0]}"] header .badge-success`).waitFor({ timeout: 10_000 });
    await page.locator(`[data-testid="pane-${ids[0]}"]`).getByText('Finished: success').waitFor();

    // restart the gateway mid-stream: lines written while it is down arrive after the reconnect
    const live = publishers.slice(1);
    await stack.restartGateway(async () => {
      for (let i = 0; i < 30; i++) {
        written++;
        for (const p of live) p.stdout(`${p.jobId} line ${written}`);
      }
      await Promise.all(live.map((p) => p.flush()));
    });
    await writeLive(live, written, 10);
    for (const p of live) await p.finish(p === live[0] ? 0 : 1);
    const total = written + 10;
    for (const p of live) {
      await waitForSeqs(page, p.jobId, total);
      await page
        .locator(`[data-testid="pane-${p.jobId}"]`)
        .getByText(/Finished: (success|failed)/)
        .waitFor({ timeout: 10_000 });
      expect(await heldSeqs(page, p.jobId)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
    expect(await heldSeqs(page, ids[0]!)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(sockets).toHaveLength(2); // the one socket, and the reconnect that got through after the restart
    await Promise.all(publishers.map((p) => p.close()));
    await page.close();
  }, 90_000);

  it('watches 70 running jobs at once: a line in every pane, and again after a gateway restart', async () => {
    // More views than the old burst of 60 subscribes: every subscribe must be answered and held.
    const prefix = `${stack.namespace()}-many`;
    const ids = Array.from({ length: 70 }, (_, i) => `${prefix}-${i}`);
    for (const id of ids) {
      await createJob(redis, { id, owner: 'alice', title: id });
      await setJobStatus(redis, id, 'running');
      await appendLines(redis, id, [{ stream: 'stdout', line: `${id} first` }]);
    }
    const page = await browser.newPage();
    await page.goto(`${stack.url}/watch?jobs=${ids.join(',')}#token=${token('alice')}`);
    const everyPaneHas = (seq: number) =>
      page.waitForFunction(
        ([all, n]) => {
          const socket = (
            window as unknown as {
              __jobstream?: { store(id: string): { getSnapshot(): { lastSeq: number } } | null };
            }
          ).__jobstream;
          return (all as string[]).every(
            (id) => (socket?.store(id)?.getSnapshot().lastSeq ?? 0) >= (n as number),
          );
        },
        [ids, seq] as const,
        { timeout: 30_000 },
      );
    await everyPaneHas(1);
    await page.locator(`[data-testid="pane-${ids[69]}"]`).getByText(`${ids[69]} first`).waitFor();

    await stack.restartGateway();
    for (const id of ids) await appendLines(redis, id, [{ stream: 'stdout', line: `${id} second` }]);
    await everyPaneHas(2);
    for (const id of [ids[0]!, ids[35]!, ids[69]!]) expect(await heldSeqs(page, id)).toEqual([1, 2]);
    for (const id of ids) await setJobStatus(redis, id, 'success');
    await page.close();
  }, 120_000);

  it('job page: merge request, folding groups, search with a count, #L permalinks', async () => {
    const publisher = await newJob('alice', 'agent run');
    publisher.stdout('::group::Install');
    for (let i = 1; i <= 5; i++) publisher.stdout(`installing package ${i}`);
    publisher.stdout('::endgroup::');
    publisher.stdout('\u001b[32mall tests passed\u001b[0m');
    publisher.stderr('warning: deprecated flag');
    await publisher.update({
      branch: 'agent/fix-cart',
      linesAdded: 12,
      linesRemoved: 4,
      mrUrl: 'https://git.example.com/mr/7',
    });
    await publisher.finish(0);
    await publisher.close();

    const page = await browser.newPage();
    await page.goto(`${stack.url}/jobs/${publisher.jobId}#token=${token('alice')}`);
    await page.getByText('Finished: success').waitFor({ timeout: 10_000 });
    expect(await page.getByRole('link', { name: 'Open merge request' }).getAttribute('href')).toBe(
      'https://git.example.com/mr/7',
    );
    await page.getByText('agent/fix-cart').waitFor();
    await page.getByText('+12').waitFor();

    const visible = () => page.locator('[data-testid="lines"] .line').count();
    // A finished group starts closed (header, then the two lines after it); the end marker never shows.
    expect(await visible()).toBe(3);
    expect(await page.getByRole('button', { name: /Install/ }).textContent()).toMatch(
      /Install · 5 lines · \d+s/,
    );
    await page.getByRole('button', { name: /Install/ }).click();
    expect(await visible()).toBe(8);
    await page.getByRole('button', { name: /Install/ }).click();
    expect(await visible()).toBe(3);

    await page.getByLabel('Search output').fill('package');
    await page.getByText('1 / 5').waitFor();
    await page.getByLabel('Next match').click();
    await page.getByText('2 / 5').waitFor();

    // green ANSI text is rendered as a coloured span, not as escape codes
    const green = page.locator('.line', { hasText: 'all tests passed' }).locator('span span').first();
    expect(await green.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(63, 185, 80)'); // the dark-background palette's green (ansi-palette.ts)
    expect(await page.locator('[data-testid="lines"]').textContent()).not.toContain('\u001b');

    await page.goto(`${stack.url}/jobs/${publisher.jobId}#L3`);
    await page.locator('.line.highlight[data-seq="3"]').waitFor();
    await page.close();
  }, 60_000);

  it('signs a new tab in from local storage, and downloads without a sign-in token in any URL', async () => {
    const publisher = await newJob('alice', 'download me');
    publisher.stdout('\u001b[31mred\u001b[0m text');
    publisher.stdout('second line');
    await publisher.finish(0);
    await publisher.close();
    const context = await browser.newContext();
    const first = await context.newPage();
    const signIn = token('alice');
    await first.goto(`${stack.url}/#token=${signIn}`);
    await first.getByRole('button', { name: 'Sign out' }).waitFor();

    // A job opened in another tab of the same browser is signed in: no token in its address.
    const second = await context.newPage();
    const urls: string[] = [];
    second.on('request', (request) => urls.push(request.url()));
    await second.goto(`${stack.url}/jobs/${publisher.jobId}`);
    await second.getByText('Finished: success').waitFor({ timeout: 10_000 });
    const [download] = await Promise.all([
      second.waitForEvent('download'),
      second.getByRole('button', { name: 'Download', exact: true }).click(),
    ]);
    const text = await new Promise<string>((resolve, reject) => {
      void download.createReadStream().then((stream) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        stream.on('error', reject);
      }, reject);
    });
    expect(text).toBe('red text\nsecond line\n'); // ANSI stripped
    expect(download.url()).toContain('access_token=');
    expect(urls.some((url) => url.includes(signIn))).toBe(false);

    // Signing out in one tab signs the other out too.
    await first.getByRole('button', { name: 'Sign out' }).click();
    await second.getByRole('button', { name: 'Sign in' }).first().waitFor({ timeout: 10_000 });
    await context.close();
  }, 60_000);

  it('renews its token silently before expiry and keeps the socket and every position', async () => {
    const publisher = await newJob('alice', 'long run');
    for (let i = 1; i <= 10; i++) publisher.stdout(`before ${i}`);
    await publisher.flush();
    const page = await browser.newPage();
    const sent: string[] = [];
    const sockets: string[] = [];
    page.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('framesent', (f) => sent.push(String(f.payload)));
    });
    // Signed 5 s ago for 67 s: 62 s left, and the page renews 60 s ahead of expiry, so at once.
    // Before: a sign-in form covered the page (and a wall stopped updating).
    const shortLived = stack.token('alice', 'user', 67, { iat: Math.floor(Date.now() / 1000) - 5 });
    await page.goto(`${stack.url}/jobs/${publisher.jobId}#token=${shortLived}`);
    await waitForSeqs(page, publisher.jobId, 10);
    await page.waitForFunction((old) => localStorage.getItem('jobstream.token') !== old, shortLived);
    await page.waitForFunction(() => true); // one turn: the auth frame goes out with the new token
    expect(await page.getByRole('dialog', { name: 'Sign in again' }).count()).toBe(0);
    publisher.stdout('after the new token');
    await publisher.flush();
    await waitForSeqs(page, publisher.jobId, 11);
    expect(sent.some((f) => f.includes('"type":"auth"'))).toBe(true);
    expect(await heldSeqs(page, publisher.jobId)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(sockets).toHaveLength(1); // same socket: the token was replaced, not the connection
    await publisher.finish(0);
    await publisher.close();
    await page.close();
  }, 60_000);

  it('the wall shows a job that starts after it opened', async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.url}/wall#token=${token('root', 'admin')}`);
    await page.getByText('Nothing running.').or(page.locator('.tile')).first().waitFor();
    const publisher = await newJob('bob', 'late arrival');
    publisher.stdout('hello wall');
    await page
      .locator(`[data-testid="tile-${publisher.jobId}"]`)
      .getByText('hello wall')
      .waitFor({ timeout: 10_000 })
      .catch(async (error: Error) => {
        // Say what the wall showed, so a failure can be understood from the CI log.
        const shown = await page
          .locator('main')
          .innerText()
          .catch(() => '(no page)');
        throw new Error(`${error.message}\nwall: ${shown.slice(0, 1500)}`);
      });
    await publisher.finish(0);
    await page
      .locator(`[data-testid="tile-${publisher.jobId}"]`)
      .waitFor({ state: 'detached', timeout: 10_000 });
    await publisher.close();
    await page.close();
  }, 60_000);
});

async function writeLive(publishers: JobPublisher[], after: number, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) for (const p of publishers) p.stdout(`${p.jobId} line ${after + i}`);
  await Promise.all(publishers.map((p) => p.flush()));
}
