/**
 * When a session cannot be renewed (it reached JOBSTREAM_SESSION_MAX_S, 30 days): a page asks the
 * person to sign in again and keeps its socket and positions; the wall never covers itself with
 * a sign-in form, it says in a banner that it stopped updating and why.
 */
import { expect, it } from '@jest/globals';
import { browserStackForFile, runningJob, waitForSeqs } from './browser-stack.js';

const s = browserStackForFile();

/** 62 s left of a session that began 31 days ago: its renewal is refused at once. */
const endOfSession = (sub: string, role: 'user' | 'admin') => {
  const now = Math.floor(Date.now() / 1000);
  return s.stack.token(sub, role, 67, { iat: now - 5, auth_time: now - 31 * 24 * 3600 });
};

it('a page whose session cannot be renewed asks for a sign-in and keeps its socket and lines', async () => {
  const publisher = await runningJob(s, 'ending', 5);
  const page = await s.browser.newPage();
  const sent: string[] = [];
  const sockets: string[] = [];
  page.on('websocket', (ws) => {
    sockets.push(ws.url());
    ws.on('framesent', (f) => sent.push(String(f.payload)));
  });
  await page.goto(`${s.stack.url}/jobs/${publisher.jobId}#token=${endOfSession('alice', 'user')}`);
  await waitForSeqs(page, publisher.jobId, 5);
  const dialog = page.getByRole('dialog', { name: 'Sign in again' });
  await dialog.waitFor({ timeout: 10_000 });
  await dialog.locator('textarea').fill(s.stack.token('alice'));
  await dialog.getByRole('button', { name: 'Sign in' }).click();
  await dialog.waitFor({ state: 'detached' });
  expect(sent.some((f) => f.includes('"type":"auth"'))).toBe(true);
  publisher.stdout('after the new token');
  await publisher.flush();
  await waitForSeqs(page, publisher.jobId, 6);
  expect(sockets).toHaveLength(1);
  await publisher.finish(0);
  await publisher.close();
  await page.close();
}, 60_000);

it('the wall never shows a sign-in form: a banner says it stopped updating and why', async () => {
  const page = await s.browser.newPage();
  await page.goto(`${s.stack.url}/wall#token=${endOfSession('root', 'admin')}`);
  const banner = page.getByRole('alert').filter({ hasText: 'stopped updating' });
  await banner.waitFor({ timeout: 10_000 });
  expect(await banner.innerText()).toMatch(/session could not be renewed .*sign in again/i);
  expect(await page.getByRole('dialog').count()).toBe(0);
  await page.close();
}, 60_000);
