/**
 * The wall keeps a failure on screen, in red, for `keepFailedS` (120 s): also one that failed
 * just before the wall was opened or reloaded. Before, only failures heard on the feed while the
 * page was open were shown, so a wall opened a minute after a deploy failed said "0 failed" and
 * showed nothing of it.
 */
import { expect, it } from '@jest/globals';
import { browserStackForFile, runningJob } from './browser-stack.js';

const s = browserStackForFile();

it('shows a job that failed just before it opened, first and in red, and counts it', async () => {
  const failed = await runningJob(s, 'Deploy production', 2);
  await failed.finish(1);
  await failed.close();
  const running = await runningJob(s, 'Nightly export', 1);
  const page = await s.browser.newPage();
  try {
    await page.goto(`${s.stack.url}/wall#token=${s.stack.token('root', 'admin')}`);
    await page.getByTestId('wall-totals').getByText('1 running · 1 failed').waitFor({ timeout: 15_000 });
    const titles = await page.locator('.tile-title').allInnerTexts();
    expect(titles.slice(0, 2)).toEqual(['Deploy production', 'Nightly export']); // failures first
    expect(await page.locator('.tile').first().getByText('failed', { exact: true }).count()).toBe(1);
    await running.finish(0);
  } finally {
    await running.close(); // a publisher left open (its heartbeat) would keep jest from exiting
    await page.close();
  }
}, 60_000);
