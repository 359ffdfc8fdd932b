/**
 * Old lines that are gone say so (before: `#L50` on a job whose head was trimmed opened other
 * lines with nothing highlighted and no word, and "Load earlier" stopped without saying why).
 * The head is trimmed here as the library trims a list without an archive (LTRIM).
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import type { Redis } from 'ioredis';
import type { Stack } from '../../scripts/lib/stack.js';
import { runningJob, startBrowserStack, stopBrowserStack, waitForSeqs } from './browser-stack.js';

let stack: Stack;
let redis: Redis;
let browser: Browser;
beforeAll(async () => {
  ({ stack, redis, browser } = await startBrowserStack());
}, 120_000);
afterAll(() => stopBrowserStack({ stack, browser }));

it('a permalink into a trimmed head and "Load earlier" say which lines are gone', async () => {
  const publisher = await runningJob({ stack, redis }, 'trimmed head', 300);
  await publisher.finish(0);
  await publisher.close();
  await redis.ltrim(`job:{${publisher.jobId}}:output`, 100, -1); // lines 1–100 gone, 101–300 kept

  const page = await browser.newPage();
  await page.goto(`${stack.url}/jobs/${publisher.jobId}#L50&token=${stack.token('alice')}`);
  await waitForSeqs(page, publisher.jobId, 300);
  await page.getByRole('alert').filter({ hasText: 'Line 50 is no longer kept' }).waitFor({ timeout: 10_000 });
  expect(await page.getByRole('alert').filter({ hasText: 'Line 50' }).innerText()).toContain('lines 1–100');

  await page.goto(`${stack.url}/jobs/${publisher.jobId}#token=${stack.token('alice')}`);
  await page.reload();
  await waitForSeqs(page, publisher.jobId, 300);
  await page.getByRole('button', { name: 'Load earlier' }).click();
  await page.getByText('lines 1–100 are no longer kept').waitFor({ timeout: 10_000 });
  await page.close();
}, 60_000);
