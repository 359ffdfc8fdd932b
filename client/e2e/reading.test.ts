/**
 * Reading a log in a real browser against a real gateway: contrast of every notice, group header
 * and ANSI colour, and long logs (a 100,000-line job opened at its end, paged, searched, and a
 * permalink that stays put while lines arrive), and a line still being written (a progress bar).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import type { Redis } from 'ioredis';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import type { Stack } from '../../scripts/lib/stack.js';
import { startBrowserStack, stopBrowserStack, waitForSeqs } from './browser-stack.js';

let stack: Stack;
let redis: Redis;
let browser: Browser;

beforeAll(async () => {
  ({ stack, redis, browser } = await startBrowserStack());
}, 120_000);
afterAll(() => stopBrowserStack({ stack, browser }));

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
    // The first error is the job's first ::error line (the server keeps it), not the first stderr held.
    await summary.getByRole('button', { name: /Jump to the first error/ }).click();
    await page.locator('.line.highlight .annotation-error').waitFor();
    expect(await page.locator('.annotation-error').textContent()).toBe(
      'Error: Bad thing (file=src/a.ts,line=3)',
    );
    expect(await page.locator('.annotation-warning').textContent()).toBe('Warning: deprecated flag');
    await page.close();
  }, 60_000);
});

describe("a tool's own styling", () => {
  it('stderr keeps the colours the tool chose (marked in the gutter); faint, struck and reversed text shown so', async () => {
    const publisher = await JobPublisher.create(redis, {
      id: `${stack.namespace()}-sgr`,
      owner: 'alice',
      title: 'sgr',
    });
    await publisher.start();
    publisher.stdout('plain on stdout');
    publisher.stderr('plain on stderr'); // jest, cargo and dd write their normal output here
    publisher.stderr('\u001b[2mfaint context line\u001b[22m');
    publisher.stdout('\u001b[9mstruck\u001b[29m');
    publisher.stdout('\u001b[7mreversed\u001b[27m');
    await publisher.finish(0);
    await publisher.close();
    const page = await browser.newPage();
    await page.goto(`${stack.url}/jobs/${publisher.jobId}#token=${stack.token('alice')}`);
    await page.getByText('reversed', { exact: true }).waitFor({ timeout: 10_000 });
    const style = (text: string, property: string): Promise<string> =>
      page
        .getByText(text, { exact: true })
        .evaluate((el, p) => getComputedStyle(el).getPropertyValue(p), property);
    // Before: stderr text was salmon whatever the tool wrote.
    expect(await style('plain on stderr', 'color')).toBe(await style('plain on stdout', 'color'));
    expect(await page.locator('.line.stderr .seq').count()).toBe(2); // the gutter says which stream
    expect(Number(await style('faint context line', 'opacity'))).toBeLessThan(1);
    expect(await style('struck', 'text-decoration-line')).toBe('line-through');
    expect(await style('reversed', 'color')).toBe('rgb(13, 17, 23)'); // the log's background…
    expect(await style('reversed', 'background-color')).toBe('rgb(230, 237, 243)'); // …and its text
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
    await waitForSeqs(page, publisher.jobId, 600);
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

describe('scrolled up in a busy log', () => {
  it('the reader\'s lines stay still while lines stream in and old ones are evicted; "Jump to latest" counts them', async () => {
    const publisher = await JobPublisher.create(redis, {
      id: `${stack.namespace()}-busy`,
      owner: 'alice',
      title: 'busy',
    });
    await publisher.start();
    const write = async (from: number, to: number): Promise<void> => {
      for (let n = from; n <= to; n++) publisher.stdout(`busy line ${n}`);
      await publisher.flush();
    };
    await write(1, 12_000); // past the 10,000 lines a page holds: more arrivals evict from the top
    const page = await browser.newPage();
    try {
      await page.goto(`${stack.url}/jobs/${publisher.jobId}#token=${stack.token('alice')}`);
      await waitForSeqs(page, publisher.jobId, 12_000);
      const lines = page.locator('[data-testid="lines"]');
      await lines.evaluate((el) => (el.scrollTop = el.scrollHeight / 2)); // the reader scrolls up
      const topSeq = () =>
        lines.evaluate((el) => {
          const top = el.getBoundingClientRect().top;
          const rows = [...el.querySelectorAll<HTMLElement>('.line[data-seq]')];
          const first = rows
            .filter((row) => row.getBoundingClientRect().bottom > top + 1)
            .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)[0];
          return Number(first?.dataset.seq ?? 0);
        });
      const before = await topSeq();
      expect(before).toBeGreaterThan(2000);
      await write(12_001, 15_000);
      await waitForSeqs(page, publisher.jobId, 15_000);
      // Before: the view slid 3,000 lines on and "Jump to latest" never came (the store's length was capped).
      await page.getByRole('button', { name: /Jump to latest \(3000 new\)/ }).waitFor({ timeout: 10_000 });
      expect(await topSeq()).toBe(before);
    } finally {
      await publisher.finish(0);
      await publisher.close();
      await page.close();
    }
  }, 90_000);
});

describe('a line still being written', () => {
  it('a line still being written shows live as the pending last line, then its stored line replaces it', async () => {
    const publisher = await JobPublisher.create(redis, {
      id: `${stack.namespace()}-download`,
      owner: 'alice',
      title: 'download',
    });
    await publisher.start();
    publisher.stdout('fetching the archive');
    await publisher.flush();
    const page = await browser.newPage();
    await page.goto(`${stack.url}/jobs/${publisher.jobId}#token=${stack.token('alice')}`);
    await page.locator('.line[data-seq="1"]').waitFor({ timeout: 10_000 });
    const pending = page.getByTestId('pending-line');
    // The subscription goes live once the replay is sent; a progress frame before that is not
    // for this page (never replayed), so keep drawing the bar, as a runner does every 250 ms.
    let percent = 0;
    const drawing = setInterval(
      () => publisher.progress('stdout', `Downloading ${String(++percent).padStart(3)}%`),
      100,
    );
    try {
      await pending.getByText(/Downloading +\d+%/).waitFor({ timeout: 10_000 });
    } finally {
      clearInterval(drawing);
    }
    expect(await page.locator('.line[data-seq]').count()).toBe(1); // shown, not a stored line
    publisher.stdout('Downloading 100%');
    await page.locator('.line[data-seq="2"]', { hasText: 'Downloading 100%' }).waitFor();
    expect(await pending.count()).toBe(0);
    await publisher.finish(0);
    await publisher.close();
    await page.close();
  }, 60_000);
});
