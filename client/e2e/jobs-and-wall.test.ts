/**
 * The dashboard around the log, in a real browser against a real gateway: the jobs table (server
 * search, paging, headers, filters in the address), cancel from the job page ending a real
 * `jobrun` child, and the wall read from across a room at 1920×1080.
 */
import { spawnJobrun } from '../../scripts/lib/jobrun-process.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import type { Redis } from 'ioredis';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { appendLines, createJob, getJob, setJobStatus } from '../../shared/redis/functions.js';
import { launchBrowser } from '../../scripts/lib/browser.js';
import { startStack, type Stack } from '../../scripts/lib/stack.js';

let stack: Stack;
let redis: Redis;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack({ dashboard: true });
  redis = stack.redis!.client();
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('jobs table', () => {
  it('searches on the server past the loaded page, pages with "load more", keeps filters in the address', async () => {
    const owner = `${stack.namespace()}owner`;
    // 60 jobs: the newest 50 fill the first page; the one to find is the oldest.
    for (let i = 0; i < 60; i++)
      await createJob(redis, {
        id: `${owner}-${i}`,
        owner,
        title: i === 0 ? 'Deploy needle service' : `routine ${i}`,
        fields: { branch: i === 1 ? 'feature/needle-branch' : 'main' },
      });
    await setJobStatus(redis, `${owner}-0`, 'running');
    await setJobStatus(redis, `${owner}-0`, 'failed', { exitCode: 3 });
    const page = await browser.newPage();
    await page.goto(`${stack.url}/#token=${stack.token(owner)}`);
    const rows = page.locator('table.jobs tbody tr');
    await page.getByText('Load more (50 shown)').waitFor();
    expect(await rows.count()).toBe(50);
    const headers = (await page.locator('table.jobs th').allTextContents()).map((h) =>
      h.replace(/[▲▼]/g, '').trim(),
    );
    expect(headers).toEqual(['Select', 'Status', 'Title', 'Owner', 'Branch', 'Started', 'Duration', 'Exit']);
    expect(await page.locator('th[aria-sort="descending"]').textContent()).toContain('Started');
    await page.getByText('Load more (50 shown)').click();
    await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 60);

    await page.getByLabel('Search jobs by title, owner or branch').fill('NEEDLE');
    await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 2);
    expect(page.url()).toContain('q=NEEDLE');
    await page.getByLabel('Filter by status').selectOption('failed');
    await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 1);
    const row = page.getByTestId(`job-row-${owner}-0`);
    expect(await row.locator('td[data-label="Exit"]').textContent()).toBe('3');
    expect(page.url()).toMatch(/status=failed/);

    // The address is the view: opened afresh, it shows the same.
    const shared = await browser.newPage();
    await shared.goto(`${page.url()}#token=${stack.token(owner)}`);
    await shared.getByTestId(`job-row-${owner}-0`).waitFor();
    expect(await shared.locator('table.jobs tbody tr').count()).toBe(1);
    await page.getByLabel('Search jobs by title, owner or branch').fill('nothing like this');
    await page.getByText('No jobs match “nothing like this” with status failed.').waitFor();
    await page.close();
    await shared.close();
  }, 60_000);
});

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

describe('readability', () => {
  it('every notice, group header and ANSI colour reads at 4.5:1 or better; underline and italic kept', async () => {
    const publisher = await JobPublisher.create(redis, {
      id: `${stack.namespace()}-colours`,
      owner: 'alice',
      title: 'colours',
    });
    await publisher.start();
    for (const code of [30, 31, 32, 33, 34, 35, 36, 37, 90, 91, 92, 93, 94, 95, 96, 97])
      publisher.stdout(`\u001b[${code}mcolour ${code}\u001b[0m`);
    publisher.stdout('\u001b[4munderlined\u001b[0m \u001b[3mitalic\u001b[0m');
    publisher.stdout('::group::A group');
    publisher.stdout('inside');
    publisher.stdout('::endgroup::');
    publisher.stdout('::warning::deprecated flag');
    publisher.stderr('an error line');
    publisher.stdout('::error file=src/a.ts,line=3::Bad thing');
    await publisher.finish(1, { errorMessage: 'it broke' });
    await publisher.close();
    const page = await browser.newPage();
    await page.goto(`${stack.url}/jobs/${publisher.jobId}#token=${stack.token('alice')}`);
    await page.getByText('colour 97').waitFor({ timeout: 10_000 });
    const worst = await page.evaluate(() => {
      const channel = (c: number) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      const parse = (css: string): [number, number, number, number] => {
        const m = css.match(/[\d.]+/g)!.map(Number);
        return [m[0]!, m[1]!, m[2]!, m[3] ?? 1];
      };
      const luminance = ([r, g, b]: number[]) =>
        0.2126 * channel(r!) + 0.7152 * channel(g!) + 0.0722 * channel(b!);
      // The colour behind an element: the first opaque background up the tree (blended with
      // translucent ones on the way, which is what the eye sees).
      const behind = (el: Element): number[] => {
        const layers: [number, number, number, number][] = [];
        for (let node: Element | null = el; node; node = node.parentElement) {
          const bg = parse(getComputedStyle(node).backgroundColor);
          if (bg[3] > 0) layers.push(bg);
          if (bg[3] >= 1) break;
        }
        let colour = [255, 255, 255];
        for (const [r, g, b, a] of layers.reverse())
          colour = [r, g, b].map((v, i) => v * a + colour[i]! * (1 - a));
        return colour;
      };
      const results: { text: string; ratio: number }[] = [];
      const selectors = [
        '.notice',
        '.group',
        '.line .text span',
        '.line .seq',
        '.line.stderr .text',
        '.annotation',
      ];
      for (const el of document.querySelectorAll(selectors.join(','))) {
        if (!(el.textContent ?? '').trim()) continue;
        const fg = luminance(parse(getComputedStyle(el).color));
        const bg = luminance(behind(el));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        results.push({ text: (el.textContent ?? '').slice(0, 30), ratio: Math.round(ratio * 100) / 100 });
      }
      return results.sort((a, b) => a.ratio - b.ratio);
    });
    expect(worst.length).toBeGreaterThan(20);
    expect(worst.filter((r) => r.ratio < 4.5)).toEqual([]);
    const styled = page.getByText('underlined', { exact: true });
    expect(await styled.evaluate((el) => getComputedStyle(el).textDecorationLine)).toBe('underline');
    expect(
      await page.getByText('italic', { exact: true }).evaluate((el) => getComputedStyle(el).fontStyle),
    ).toBe('italic');
    // A search the server could not answer says so; it is never shown as "no matches".
    await page.route('**/search?**', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'unavailable', message: 'Redis did not answer' } }),
      }),
    );
    await page.getByLabel('Search output').fill('colour');
    await page.getByText('search failed: Redis did not answer').waitFor();
    expect(await page.getByText('no matches').count()).toBe(0);
    await page.unroute('**/search?**');
    await page.getByLabel('Search output').fill('');
    // The log is one tab stop, announced as a log; stderr is marked in the gutter, not by colour alone.
    const log = page.getByRole('log', { name: 'Output of colours' });
    expect(await log.getAttribute('tabindex')).toBe('0');
    const gutter = page.locator('.line.stderr .seq').first();
    expect(await gutter.evaluate((el) => getComputedStyle(el).boxShadow)).not.toBe('none');
    // Failures first: the summary, the last stderr, a jump to the first error; annotations as such.
    const summary = page.locator('.failure');
    expect(await summary.locator('strong').first().textContent()).toBe('Failed with exit code 1: it broke');
    expect(await summary.locator('.failure-tail').textContent()).toBe('an error line');
    await summary.getByRole('button', { name: /Jump to the first error/ }).click();
    await page.locator('.line.highlight.stderr').waitFor();
    expect(await page.locator('.annotation-error').textContent()).toBe(
      'Error: Bad thing (file=src/a.ts,line=3)',
    );
    expect(await page.locator('.annotation-warning').textContent()).toBe('Warning: deprecated flag');
    await page.close();
  }, 60_000);
});

describe('long logs', () => {
  it('a 100,000-line job opens at the end, says so, pages earlier, loads #L50, and searches all of it', async () => {
    const id = `${stack.namespace()}-long`;
    await createJob(redis, { id, owner: 'alice', title: 'long' });
    await setJobStatus(redis, id, 'running');
    for (let from = 1; from <= 100_000; from += 5000) {
      const batch = Array.from({ length: 5000 }, (_, i) => {
        const n = from + i;
        // Ten needles, two of them inside a group that starts folded once finished.
        const text = n % 10_000 === 5 ? `needle number ${n}` : `line ${n}`;
        return {
          stream: 'stdout' as const,
          line: n === 20_000 ? '::group::Setup' : n === 20_010 ? '::endgroup::' : text,
        };
      });
      await appendLines(redis, id, batch);
    }
    await setJobStatus(redis, id, 'success');
    const page = await browser.newPage();
    await page.goto(`${stack.url}/jobs/${id}#token=${stack.token('alice')}`);
    await page.getByText('Lines 90,001–100,000 of 100,000').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Load earlier' }).click();
    await page.getByText('Lines 89,001–100,000 of 100,000').waitFor();

    await page.getByLabel('Search output').fill('NEEDLE');
    await page.getByText('1 / 10').waitFor({ timeout: 10_000 });
    await page.locator('.line.match[data-seq="5"]').waitFor(); // the first hit, far back: its window opened
    // Only the matched text is marked, not the whole line.
    expect(await page.locator('.line.match[data-seq="5"] mark.hit').allTextContents()).toEqual(['needle']);
    await page.getByLabel('Next match').click();
    await page.getByText('2 / 10').waitFor();
    await page.locator('.line.match[data-seq="10005"]').waitFor();
    await page.getByRole('button', { name: 'Back to the latest' }).click();
    await page.getByText('Lines 89,001–100,000 of 100,000').waitFor();

    await page.goto(`${stack.url}/jobs/${id}#L50`);
    await page.locator('.line.highlight[data-seq="50"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('.line.highlight[data-seq="50"]').textContent()).toContain('line 50');
    await page.close();
  }, 90_000);

  it('a permalink on a running job stays put while lines arrive', async () => {
    const publisher = await JobPublisher.create(redis, {
      id: `${stack.namespace()}-pinned`,
      owner: 'alice',
      title: 'pinned',
    });
    await publisher.start();
    for (let n = 1; n <= 500; n++) publisher.stdout(`line ${n}`);
    await publisher.flush();
    const page = await browser.newPage();
    await page.goto(`${stack.url}/jobs/${publisher.jobId}#L100&token=${stack.token('alice')}`);
    await page.locator('.line.highlight[data-seq="100"]').waitFor({ timeout: 10_000 });
    const lines = page.locator('[data-testid="lines"]');
    // The reader scrolls away from the permalink; new batches must not pull the view back.
    await lines.evaluate((el) => (el.scrollTop = 0));
    for (let n = 501; n <= 600; n++) publisher.stdout(`line ${n}`);
    await publisher.flush();
    await page.waitForFunction(
      (id) =>
        ((
          window as unknown as { __jobstream: { store(id: string): { getSnapshot(): { lastSeq: number } } } }
        ).__jobstream
          .store(id)
          ?.getSnapshot().lastSeq ?? 0) >= 600,
      publisher.jobId,
    );
    await page.evaluate(
      () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
    );
    expect(await lines.evaluate((el) => el.scrollTop)).toBe(0);
    // A range, as the dashboard's addresses (docs/protocol.md) give it, and shift-click to make one.
    await page.evaluate(() => (window.location.hash = 'L10-L20'));
    await page.locator('.line.highlight[data-seq="20"]').waitFor();
    expect(await page.locator('.line.highlight').count()).toBe(11);
    await page.locator('#L12').click();
    await page.locator('#L15').click({ modifiers: ['Shift'] });
    await page.waitForFunction(() => window.location.hash === '#L12-L15');
    expect(await page.locator('.line.highlight').count()).toBe(4);
    await publisher.finish(0);
    await publisher.close();
    await page.close();
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
    for (const i of [1, 2])
      await createJob(redis, {
        id: `${owner}-${i}`,
        owner,
        title: `a rather long job title number ${i} for a phone`,
      });
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${stack.url}/#token=${stack.token(owner)}`);
    await page.getByTestId(`job-row-${owner}-1`).waitFor();
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    expect(await overflow()).toBe(false);
    expect(await page.locator('table.jobs thead').isVisible()).toBe(false);
    await page.goto(`${stack.url}/watch?jobs=${owner}-1,${owner}-2`);
    await page.getByTestId(`pane-${owner}-2`).waitFor();
    const [a, b] = await Promise.all([1, 2].map((i) => page.getByTestId(`pane-${owner}-${i}`).boundingBox()));
    expect(b!.y).toBeGreaterThan(a!.y); // stacked, not side by side
    expect(a!.width).toBeGreaterThan(300);
    expect(await overflow()).toBe(false);
    await page.close();
  }, 60_000);
});
