/**
 * Terminal output that is not plain text, in a real browser: OSC 8 hyperlinks are links (before:
 * `]8;;https://…` shown as text), plain URLs are clickable, backspaces take back a character
 * (before: boxes), and a javascript: link stays text.
 */
import { expect, it } from '@jest/globals';
import { browserStackForFile, runningJob, waitForSeqs } from './browser-stack.js';

const s = browserStackForFile();

const ESC = '\u001b';

it('renders OSC 8 links, plain URLs and backspaces as a terminal would', async () => {
  const publisher = await runningJob(s, 'terminal text', 0);
  publisher.stdout(
    `error: see ${ESC}]8;;https://docs.example.com/E0308${ESC}\\E0308${ESC}]8;;${ESC}\\ for details`,
  );
  publisher.stdout('Merge request: https://git.example.com/team/app/-/merge_requests/42.');
  publisher.stdout('progress: 10%\b\b\b50%');
  publisher.stdout(`${ESC}]8;;javascript:alert(1)${ESC}\\not a link${ESC}]8;;${ESC}\\`);
  await publisher.finish(0);
  await publisher.close();
  const page = await s.browser.newPage();
  await page.goto(`${s.stack.url}/jobs/${publisher.jobId}#token=${s.stack.token('alice')}`);
  await waitForSeqs(page, publisher.jobId, 4);
  const log = page.getByRole('log');
  const osc = log.getByRole('link', { name: 'E0308' });
  expect(await osc.getAttribute('href')).toBe('https://docs.example.com/E0308');
  expect(await osc.getAttribute('rel')).toBe('noopener noreferrer');
  const plain = log.getByRole('link', { name: 'https://git.example.com/team/app/-/merge_requests/42' });
  expect(await plain.getAttribute('href')).toBe('https://git.example.com/team/app/-/merge_requests/42');
  await log.getByText('progress: 50%', { exact: true }).waitFor();
  const shown = await log.innerText();
  expect(shown).not.toContain(']8;;');
  expect(shown).not.toContain('\b');
  expect(await log.getByRole('link', { name: 'not a link' }).count()).toBe(0);
  await page.close();
}, 60_000);

it('"View raw" opens the whole log as plain text in a new tab, signed in by a download token', async () => {
  const publisher = await runningJob(s, 'raw view', 3);
  publisher.stdout(`${ESC}[32mgreen${ESC}[0m done`);
  await publisher.finish(0);
  await publisher.close();
  const page = await s.browser.newPage();
  await page.goto(`${s.stack.url}/jobs/${publisher.jobId}#token=${s.stack.token('alice')}`);
  await waitForSeqs(page, publisher.jobId, 4);
  const [raw] = await Promise.all([
    page.waitForEvent('popup'),
    page.getByRole('button', { name: 'View raw' }).click(),
  ]);
  await raw.waitForURL(/view=raw/);
  expect(raw.url()).not.toContain(s.stack.token('alice')); // a download token, never the sign-in token
  expect((await raw.locator('body').innerText()).trimEnd()).toBe('line 1\nline 2\nline 3\ngreen done');
  await raw.close();
  await page.close();
}, 60_000);

it('on a phone long lines wrap by default, so none is cut at the screen edge', async () => {
  const publisher = await runningJob(s, 'long lines', 0);
  publisher.stdout(`${'a-very-long-word '.repeat(40)}end`);
  await publisher.finish(0);
  await publisher.close();
  const phone = await s.browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(`${s.stack.url}/jobs/${publisher.jobId}#token=${s.stack.token('alice')}`);
  await waitForSeqs(phone, publisher.jobId, 1);
  expect(await phone.getByLabel('wrap').isChecked()).toBe(true);
  const line = phone.locator('.line', { hasText: 'end' });
  const box = await line.boundingBox();
  expect(box!.x + box!.width).toBeLessThanOrEqual(390);
  expect(box!.height).toBeGreaterThan(40); // several rows, not one cut off
  await phone.close();
  const desk = await s.browser.newPage({ viewport: { width: 1400, height: 900 } });
  await desk.goto(`${s.stack.url}/jobs/${publisher.jobId}#token=${s.stack.token('alice')}`);
  await waitForSeqs(desk, publisher.jobId, 1);
  expect(await desk.getByLabel('wrap').isChecked()).toBe(false);
  await desk.close();
}, 60_000);
