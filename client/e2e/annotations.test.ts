/**
 * A job's annotations on its page (issue: failures found from the job, not from what the browser
 * holds): the summary lists every ::error/::warning line with a link to it, and "Jump to the
 * first error" names the job's first error even when it lies before the 10,000 lines the page
 * holds. Before: it named the first stderr line the browser happened to hold, or nothing.
 */
import { expect, it } from '@jest/globals';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { browserStackForFile } from './browser-stack.js';

const s = browserStackForFile();

it('lists the job’s annotations and jumps to its first error, far before the lines held', async () => {
  const id = `${s.stack.namespace()}-annotated`;
  await createJob(s.redis, { id, owner: 'alice', title: 'annotated' });
  await setJobStatus(s.redis, id, 'running');
  const out = (line: string) => ({ stream: 'stdout' as const, line });
  await appendLines(s.redis, id, [out('start'), out('::error file=src/app.ts,line=12::Expected 1 to be 2')]);
  for (let i = 0; i < 12; i++)
    await appendLines(
      s.redis,
      id,
      Array.from({ length: 1000 }, (_, k) => out(`noise ${i}.${k}`)),
    );
  await appendLines(s.redis, id, [out('::warning::Node 18 is deprecated')]);
  await setJobStatus(s.redis, id, 'failed', { exitCode: 1, errorMessage: 'exit code 1' });

  const page = await s.browser.newPage();
  await page.goto(`${s.stack.url}/jobs/${id}#token=${s.stack.token('alice')}`);
  const panel = page.getByRole('region', { name: 'Annotations' });
  await panel.getByText('Annotations: 1 error, 1 warning').waitFor({ timeout: 15_000 });
  // The heading comes with the job; the list is its own request, which may still be on its way.
  await panel.getByRole('link', { name: 'line 12,003' }).waitFor();
  expect(await panel.getByRole('listitem').allInnerTexts()).toEqual([
    'Error: Expected 1 to be 2 (src/app.ts:12) line 2',
    'Warning: Node 18 is deprecated line 12,003',
  ]);
  expect(await panel.getByRole('link', { name: 'line 2' }).getAttribute('href')).toBe('#L2');
  const failure = page.locator('.failure');
  await failure.getByRole('button', { name: 'Jump to the first error (line 2)' }).waitFor();
  expect(await failure.locator('strong').innerText()).toBe('Failed with exit code 1');
  await page.close();
}, 60_000);

it('writes a moment one way: the job list and the job page show the same start time', async () => {
  const id = `${s.stack.namespace()}-times`;
  await createJob(s.redis, { id, owner: 'alice', title: 'times' });
  await setJobStatus(s.redis, id, 'running');
  const page = await s.browser.newPage();
  await page.goto(`${s.stack.url}/#token=${s.stack.token('alice')}`);
  const listed = await page
    .locator('tr', { hasText: 'times' })
    .locator('td[data-label="Started"] time')
    .innerText();
  await page.goto(`${s.stack.url}/jobs/${id}`);
  const shown = await page.locator('dd time').first().innerText();
  expect(listed.split(' · ')[0]).toBe(shown); // before: "Dec 6, 2026, 11:45 PM" there, "12/6/2026, 11:45:36 PM" here
  await setJobStatus(s.redis, id, 'success');
  await page.close();
}, 60_000);
