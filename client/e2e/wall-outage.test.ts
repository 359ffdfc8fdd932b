/**
 * The wall through an outage: a tile that pages in while the wall is offline shows what is known
 * (title, status, duration) and says its output comes when the connection is back, instead of an
 * empty box; once back, its lines arrive.
 */
import { expect, it } from '@jest/globals';
import { browserStackForFile, runningJob } from './browser-stack.js';

const s = browserStackForFile();

it('a tile paged in during an outage says its output is coming, then shows it', async () => {
  const first = await runningJob(s, 'first on the wall', 3);
  const second = await runningJob(s, 'second on the wall', 3);
  const page = await s.browser.newPage();
  // One tile a page, a page a second: the wall flips between the two jobs.
  await page.goto(`${s.stack.url}/wall?perPage=1&pageS=1#token=${s.stack.token('root', 'admin')}`);
  await page.locator('.tile-log').getByText('line 3').waitFor();
  await s.stack.restartGateway(async () => {
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
