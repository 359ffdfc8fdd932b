/**
 * Replay pages: a job's stored lines from one seq to another, read in pages with one atomic
 * `jobstream_read` each (exact while the runner appends and trims; from the archive below what
 * Redis holds), one page read ahead while the
 * caller sends the previous one (while its socket can take it), so a replay is not a chain of
 * round trips. What a subscription
 * does with the pages — gaps, backpressure, the switch to live — stays in subscription.ts.
 */
import { REPLAY_PAGE_BYTES, REPLAY_PAGE_LINES } from '../limits.js';
import type { StoredPage } from '../redis/store.js';
import type { OutputReader } from '../archive/output-reader.js';

/** What replay needs to know of the socket it reads for. */
export interface ReplayTarget {
  /** The socket's send buffer is over the high-water mark: nothing more should be read for it. */
  congested(): boolean;
  /** Resolves once the socket can take more (or closed). */
  drained(): Promise<void>;
}

/**
 * Pages of stored entries with `fromSeq` ≤ seq ≤ `toSeq`, in order; a page's `fromSeq` is past
 * the asked-for seq where lines were trimmed. Ends after the page holding `toSeq`, or at an empty
 * page (nothing left: the rest expired). Stopping early drops the read in flight.
 *
 * Guarantee 5: nothing is read for a congested socket, and nothing read is held while it is
 * congested. The next page is read ahead only while the socket can take it; a page that arrives
 * once the socket has filled (other subscriptions of the socket sent meanwhile) is dropped and
 * read again after the drain.
 */
export async function* replayPages(
  output: OutputReader,
  jobId: string,
  fromSeq: number,
  toSeq: number,
  target: ReplayTarget,
): AsyncGenerator<StoredPage> {
  const read = (from: number): Promise<StoredPage> =>
    output.read(jobId, from, REPLAY_PAGE_LINES, { toSeq, maxBytes: REPLAY_PAGE_BYTES });
  let next: Promise<StoredPage> | null = null;
  let from = fromSeq;
  try {
    while (from <= toSeq) {
      if (target.congested()) {
        void next?.catch(() => undefined);
        next = null;
        await target.drained();
      }
      const page: StoredPage = await (next ?? read(from));
      next = null;
      if (target.congested()) continue; // filled while we read: hold nothing, read it again later
      const after = page.fromSeq + page.entries.length;
      if (page.entries.length > 0 && after <= toSeq) next = read(after);
      yield page;
      if (page.entries.length === 0) return;
      from = after;
    }
  } finally {
    void next?.catch(() => undefined); // stopped or failed meanwhile: a read in flight is dropped
  }
}
