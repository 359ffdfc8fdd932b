/** What every browser test starts: a stack serving the built dashboard, and Chromium. */
import type { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../scripts/lib/browser.js';
import { startStack, type Stack } from '../../scripts/lib/stack.js';

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

export async function stopBrowserStack(started: Partial<BrowserStack>): Promise<void> {
  await started.browser?.close();
  await started.stack?.stop();
}
