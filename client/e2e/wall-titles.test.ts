/**
 * The wall across a room: jobs of one matrix share a long title start, which is said once in the
 * header while each tile shows what is its own (before: every tile cut to "Matrix job 59 (node …",
 * the part that tells them apart hidden).
 */
import { expect, it } from '@jest/globals';
import { browserStackForFile, runningJob } from './browser-stack.js';

const s = browserStackForFile();

it('says the start matrix jobs share once and shows each tile its own part', async () => {
  const jobs = await Promise.all(
    ['node 18, ubuntu-latest', 'node 20, ubuntu-latest', 'node 22, windows-latest'].map((axis) =>
      runningJob(s, `Matrix job 59 (${axis})`, 1),
    ),
  );
  const page = await s.browser.newPage();
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(`${s.stack.url}/wall#token=${s.stack.token('root', 'admin')}`);
  const titles = page.locator('.tile-title');
  await page.waitForFunction(() => document.querySelectorAll('.tile-title').length >= 3);
  expect((await titles.allInnerTexts()).sort()).toEqual([
    '…18, ubuntu-latest)',
    '…20, ubuntu-latest)',
    '…22, windows-latest)',
  ]);
  expect(await page.locator('.wall-shared-title').innerText()).toBe('Matrix job 59 (node…');
  expect(await titles.first().getAttribute('title')).toMatch(/^Matrix job 59 \(node /);
  for (const job of jobs) {
    await job.finish(0);
    await job.close();
  }
  await page.close();
}, 60_000);
