/** What every browser test starts: a stack serving the built dashboard, and Chromium. */
import { afterAll, beforeAll } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../../scripts/lib/browser.js';
import { startStack, type Stack } from '../../scripts/lib/stack.js';
import { JobPublisher } from '../../shared/runner/publisher.js';

export interface BrowserStack {
  stack: Stack;
  /** A standalone connection (JobPublisher takes one). */
  redis: Redis;
  browser: Browser;
}

export async function startBrowserStack(): Promise<BrowserStack> {
  const stack = await startStack({ dashboard: true });
  return { stack, redis: stack.redis!.client(), browser: await launchBrowser() };
}

/**
 * The stack and browser of one test file: started before its tests, stopped after them (the
 * object is filled in by then; read its fields inside tests, not at the top of the file).
 */
export function browserStackForFile(): BrowserStack {
  const started = {} as BrowserStack;
  beforeAll(async () => {
    Object.assign(started, await startBrowserStack());
  }, 120_000);
  afterAll(() => stopBrowserStack(started));
  return started;
}

export async function stopBrowserStack(started: Partial<BrowserStack>): Promise<void> {
  await started.browser?.close();
  await started.stack?.stop();
}

/** Resolves once the page's socket holds job `jobId` up to seq `seq` (the store, not the DOM: the viewer is virtualised). */
export async function waitForSeqs(page: Page, jobId: string, seq: number, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    ([id, n]) => {
      const socket = (
        window as unknown as {
          __jobstream?: { store(id: string): { getSnapshot(): { lastSeq: number } } | null };
        }
      ).__jobstream;
      return (socket?.store(id as string)?.getSnapshot().lastSeq ?? 0) >= (n as number);
    },
    [jobId, seq] as const,
    { timeout },
  );
}

/** A running job of `owner` under a fresh id whose first `lines` lines (`line <n>`) are stored. */
export async function runningJob(
  { stack, redis }: Pick<BrowserStack, 'stack' | 'redis'>,
  title: string,
  lines: number,
  owner = 'alice',
): Promise<JobPublisher> {
  const publisher = await JobPublisher.create(redis, {
    id: `${stack.namespace()}-${title.replace(/\W/g, '')}`,
    owner,
    title,
  });
  await publisher.start();
  for (let n = 1; n <= lines; n++) publisher.stdout(`line ${n}`);
  await publisher.flush();
  return publisher;
}
