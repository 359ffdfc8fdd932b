/** repeatAfterEach (ops/repeat.ts): the gateway's one idiom for periodic async work. */
import { expect, it } from '@jest/globals';
import { repeatAfterEach } from '../src/ops/repeat.js';

it('never runs twice at once, goes on after a failed run, and leaves no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  let running = 0;
  let overlapped = false;
  let runs = 0;
  let fifthRun: () => void = () => undefined;
  const fifth = new Promise<void>((resolve) => (fifthRun = resolve));
  const repeating = repeatAfterEach(1, async () => {
    runs++;
    running++;
    overlapped ||= running > 1;
    await new Promise((resolve) => setTimeout(resolve, 5)); // slower than the interval
    running--;
    if (runs === 5) fifthRun();
    if (runs % 2 === 1) throw new Error('Redis said no'); // every other run fails
  });
  await fifth;
  await repeating.stop();
  const after = runs;
  await new Promise((resolve) => setImmediate(resolve));
  process.off('unhandledRejection', onUnhandled);
  expect(overlapped).toBe(false);
  expect(unhandled).toEqual([]);
  expect(runs).toBe(after); // stopped: no run after stop() resolved
});
