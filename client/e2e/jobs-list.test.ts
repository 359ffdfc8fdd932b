/**
 * The jobs table in a real browser against a real gateway: search answered by the server past the
 * loaded page, paging with "load more", headers, filters and the sort in the address, and a sort
 * over every matching job rather than the rows loaded.
 */
import { describe, expect, it } from '@jest/globals';
import { createJob, setJobStatus } from '../../shared/redis/functions.js';
import { browserStackForFile } from './browser-stack.js';

const s = browserStackForFile();

describe('jobs table', () => {
  it('sorts every job, not only the loaded page, and keeps the sort in the address', async () => {
    const owner = `${s.stack.namespace()}sorter`;
    // 70 jobs: the first page holds the newest 50; the title that sorts first is the oldest job's.
    for (let i = 0; i < 70; i++)
      await createJob(s.redis, {
        id: `${owner}-${i}`,
        owner,
        title: i === 0 ? 'aardvark' : `routine ${100 + i}`,
      });
    const page = await s.browser.newPage();
    await page.goto(`${s.stack.url}/#token=${s.stack.token(owner)}`);
    await page.getByText('Load more (50 shown)').waitFor();
    const firstTitle = page.locator('table.jobs tbody tr').first().locator('td[data-label="Title"]');
    await page.getByRole('button', { name: 'Title' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 70);
    expect(await firstTitle.textContent()).toBe('aardvark');
    expect(await page.locator('th[aria-sort="ascending"]').textContent()).toContain('Title');
    expect(new URL(page.url()).searchParams.get('sort')).toBe('title');
    await page.getByRole('button', { name: /Title/ }).click();
    await page.waitForFunction(() => /sort=-title/.test(location.search));
    expect(await firstTitle.textContent()).toBe('routine 169');
    expect(
      await page.locator('table.jobs tbody tr').last().locator('td[data-label="Title"]').textContent(),
    ).toBe('aardvark');
    // Opened afresh from the address: the same order, over every job.
    const shared = await s.browser.newPage();
    await shared.goto(`${page.url()}#token=${s.stack.token(owner)}`);
    await shared.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 70);
    expect(
      await shared.locator('table.jobs tbody tr').last().locator('td[data-label="Title"]').textContent(),
    ).toBe('aardvark');
    await shared.close();
    await page.close();
  }, 60_000);

  it('searches on the server past the loaded page, pages with "load more", keeps filters in the address', async () => {
    const owner = `${s.stack.namespace()}owner`;
    // 60 jobs: the newest 50 fill the first page; the one to find is the oldest.
    for (let i = 0; i < 60; i++)
      await createJob(s.redis, {
        id: `${owner}-${i}`,
        owner,
        title: i === 0 ? 'Deploy needle service' : `routine ${i}`,
        fields: { branch: i === 1 ? 'feature/needle-branch' : 'main' },
      });
    await setJobStatus(s.redis, `${owner}-0`, 'running');
    await setJobStatus(s.redis, `${owner}-0`, 'failed', { exitCode: 3 });
    const page = await s.browser.newPage();
    await page.goto(`${s.stack.url}/#token=${s.stack.token(owner)}`);
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
    const shared = await s.browser.newPage();
    await shared.goto(`${page.url()}#token=${s.stack.token(owner)}`);
    await shared.getByTestId(`job-row-${owner}-0`).waitFor();
    expect(await shared.locator('table.jobs tbody tr').count()).toBe(1);
    await page.getByLabel('Search jobs by title, owner or branch').fill('nothing like this');
    await page.getByText('No jobs match “nothing like this” with status failed.').waitFor();
    await page.close();
    await shared.close();
  }, 60_000);
});
