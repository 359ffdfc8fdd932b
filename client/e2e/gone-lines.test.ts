/**
 * Old lines that are gone say so (before: `#L50` on a job whose head was trimmed opened other
 * lines with nothing highlighted and no word, and "Load earlier" stopped without saying why).
 * The head is trimmed here as the library trims a list without an archive (LTRIM).
 */
import { expect, it } from '@jest/globals';
import { browserStackForFile, runningJob, waitForSeqs } from './browser-stack.js';

const s = browserStackForFile();

it('a permalink into a trimmed head and "Load earlier" say which lines are gone', async () => {
  const publisher = await runningJob(s, 'trimmed head', 300);
  await publisher.finish(0);
  await publisher.close();
  await s.redis.ltrim(`job:{${publisher.jobId}}:output`, 100, -1); // lines 1–100 gone, 101–300 kept

  const page = await s.browser.newPage();
  await page.goto(`${s.stack.url}/jobs/${publisher.jobId}#L50&token=${s.stack.token('alice')}`);
  await waitForSeqs(page, publisher.jobId, 300);
  await page.getByRole('alert').filter({ hasText: 'Line 50 is no longer kept' }).waitFor({ timeout: 10_000 });
  expect(await page.getByRole('alert').filter({ hasText: 'Line 50' }).innerText()).toContain('lines 1–100');

  await page.goto(`${s.stack.url}/jobs/${publisher.jobId}#token=${s.stack.token('alice')}`);
  await page.reload();
  await waitForSeqs(page, publisher.jobId, 300);
  await page.getByRole('button', { name: 'Load earlier' }).click();
  await page.getByText('lines 1–100 are no longer kept').waitFor({ timeout: 10_000 });
  await page.close();
}, 60_000);
