/**
 * A real EventSource in Chromium on `GET /api/jobs/:id/stream` (docs/protocol.md "Streams over
 * HTTP"), with a stream token in its URL since it cannot send a header, through a gateway
 * restart: it reconnects by itself, resumes by Last-Event-ID, and ends with every line once.
 */
import { expect, it } from '@jest/globals';
import { browserStackForFile, runningJob } from './browser-stack.js';

const s = browserStackForFile();

interface Seen {
  seqs: number[];
  opens: number;
  done: unknown;
}

it('an EventSource follows a job through a gateway restart: every line once, then done', async () => {
  const publisher = await runningJob(s, 'sse', 500);
  const page = await s.browser.newPage();
  await page.goto(`${s.stack.url}/`);
  // The page asks for a stream token with its sign-in token, then opens the EventSource with it.
  await page.evaluate(
    async ([jobId, bearer]) => {
      const res = await fetch(`/api/jobs/${jobId}/stream-token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}` },
      });
      const { url } = (await res.json()) as { url: string };
      const seen: Seen = { seqs: [], opens: 0, done: null };
      (window as unknown as { seen: Seen }).seen = seen;
      const source = new EventSource(url);
      source.onopen = () => seen.opens++;
      source.addEventListener('output', (event) =>
        seen.seqs.push(Number((event as MessageEvent).lastEventId)),
      );
      source.addEventListener('done', (event) => {
        seen.done = JSON.parse((event as MessageEvent).data as string);
        source.close();
      });
    },
    [publisher.jobId, s.stack.token('alice')] as const,
  );
  const seen = () => page.evaluate(() => (window as unknown as { seen: Seen }).seen);
  await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.seqs.length >= 500);

  await s.stack.restartGateway(async () => {
    for (let i = 501; i <= 800; i++) publisher.stdout(`while down ${i}`); // buffered by the runner
  });
  for (let i = 801; i <= 1000; i++) publisher.stdout(`after ${i}`);
  await publisher.finish(0);
  await publisher.close();
  await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.done !== null, undefined, {
    timeout: 30_000,
  });
  const { seqs, opens, done } = await seen();
  expect(opens).toBeGreaterThanOrEqual(2); // it did reconnect
  expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  expect(done).toEqual({ status: 'success', lastSeq: 1000 });
  await page.close();
}, 90_000);
