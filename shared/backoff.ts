/**
 * Exponential backoff with jitter, the one used everywhere a retry waits (the browser socket's
 * reconnects and refused subscribes, the runner's publisher, a subscription's catch-up): the
 * delay doubles from `initialMs` up to `maxMs`, then a random half of it is taken off, so clients
 * that failed together do not retry together.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** The delay before retry number `attempt` (0 for the first). */
export function backoffDelay(
  { initialMs, maxMs }: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  // The exponent is capped: past 2^30 the cap on the delay has long been reached.
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30)) * (0.5 + random() / 2);
}
