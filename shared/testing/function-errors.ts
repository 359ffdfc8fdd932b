/** Test helper: the promise fails with a function library error of exactly this code. */
import { expect } from '@jest/globals';
import { JobstreamError } from '../errors.js';

export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  // the typed wrappers throw JobstreamError; a raw FCALL's reply carries the same code
  expect(JobstreamError.fromRedis(error)?.code).toBe(code);
}
