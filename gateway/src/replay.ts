/**
 * Replay pages: a job's stored lines from one seq to another, read in pages with one atomic
 * `jobstream_read` each (exact while the runner appends and trims), one page read ahead while the
 * caller sends the previous one, so a replay is not a chain of round trips. What a subscription
 * does with the pages — gaps, backpressure, the switch to live — stays in subscription.ts.
 */
import type { RedisConnection } from '../../shared/redis/client.js';
import { REPLAY_PAGE_BYTES, REPLAY_PAGE_LINES } from './limits.js';
import { readOutput, type OutputPage } from './store.js';

/**
 * Pages of stored entries with `fromSeq` ≤ seq ≤ `toSeq`, in order; a page's `fromSeq` is past
 * the asked-for seq where lines were trimmed. Ends after the page holding `toSeq`, or at an empty
 * page (nothing left: the rest expired). Stopping early drops the read in flight.
 */
export async function* replayPages(
  redis: RedisConnection,
  jobId: string,
  fromSeq: number,
  toSeq: number,
): AsyncGenerator<OutputPage> {
  const read = (from: number): Promise<OutputPage> =>
    readOutput(redis, jobId, from, REPLAY_PAGE_LINES, { toSeq, maxBytes: REPLAY_PAGE_BYTES });
  let next = fromSeq <= toSeq ? read(fromSeq) : null;
  try {
    while (next) {
      const page = await next;
      const after = page.fromSeq + page.entries.length;
      next = page.entries.length > 0 && after <= toSeq ? read(after) : null;
      yield page;
      if (page.entries.length === 0) return;
    }
  } finally {
    void next?.catch(() => undefined); // stopped or failed meanwhile: a read in flight is dropped
  }
}
