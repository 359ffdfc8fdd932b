/**
 * The wall through an outage: a tile that pages in while the wall is offline shows what is known
 * (title, status, duration) and says its output comes when the connection is back, instead of an
 * empty box; once back, its lines arrive.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import type { Redis } from 'ioredis';
import type { Stack } from '../../scripts/lib/stack.js';
import { runningJob, startBrowserStack, stopBrowserStack } from './browser-stack.js';

let stack: Stack;
let redis: Redis;
let browser: Browser;
beforeAll(async () => {
  ({ stack, redis, browser } = await startBrowserStack());
}, 120_000);
afterAll(() => stopBrowserStack({ stack, browser }));

it('a tile paged in during an outage says its output is coming, then shows it', async () => {
  const first = await runningJob({ stack, redis }, 'first on the wall', 3);
  const second = await runningJob({ stack, redis }, 'second on the wall', 3);
  const page = await browser.newPage();
  // One tile a page, a page a second: the wall flips between the two jobs.
  await page.goto(`${stack.url}/wall?perPage=1&pageS=1#token=${stack.token('root', 'admin')}`);
  await page.locator('.tile-log').getByText('line 3').waitFor();
  await stack.restartGateway(async () => {
    await page.getByRole('alert').filter({ hasText: 'Disconnected since' }).waitFor();
    // Wait for the tile the wall had not shown while connected… or either, after a flip.
    const waiting = page
      .getByRole('status')
      .filter({ hasText: 'Its output appears when the connection is back' });
    await waiting.waitFor({ timeout: 10_000 });
    expect(await page.locator('.tile-title').count()).toBe(1);
  });
  await page.locator('.tile-log').getByText('line 3').waitFor({ timeout: 15_000 });
  for (const job of [first, second]) {
    await job.finish(0);
    await job.close();
  }
  await page.close();
}, 60_000);
