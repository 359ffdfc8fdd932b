/**
 * The browser scenario of `npm run bench`, smoke-sized: Chromium follows three jobs on the watch
 * page while lines stream in, and every line arrives (the figures are not asserted).
 */
import { expect, it } from '@jest/globals';
import { browser } from '../bench/browser-scenario.js';

it('the watch page receives every line of three streaming jobs', async () => {
  const result = await browser({ seconds: 2, rate: 200, jobs: 3 });
  expect(result.expectedPerJob).toBe(400);
  expect(result.delivered.map((d) => d.lastSeq)).toEqual([400, 400, 400]);
  expect(result.frames.count).toBeGreaterThan(0);
}, 120_000);
