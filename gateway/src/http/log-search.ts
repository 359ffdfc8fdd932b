/**
 * Searching a job's whole retained log (`GET /api/jobs/:id/search`): the text of each line with
 * its ANSI codes removed, case-insensitive as JavaScript's `toLowerCase`. It pages through the
 * list with `jobstream_read` (bounded pages, so a 100,000-line job never sits in memory at once)
 * up to the job's `seq` when the search began, and counts every match while keeping at most
 * `limit` of them. A search is a denial of service waiting to happen: it is bounded in number
 * (SearchSlots), in CPU per event-loop turn, and stops when its client leaves.
 */
import stripAnsi from 'strip-ansi';
import type { SearchMatch, SearchResult } from '../../../shared/http-api.js';
import type { OutputLine } from '../../../shared/protocol.js';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { SEARCH_CONCURRENCY, SEARCH_PAGE_BYTES, SEARCH_PAGE_LINES, SEARCH_SLICE_MS } from '../limits.js';
import type { OutputReader } from '../archive/output-reader.js';

/** The line as a reader sees it: no ANSI codes, for matching and for plain-text downloads. */
export function plainText(line: string): string {
  return line.includes('\u001b') || line.includes('\u009b') ? stripAnsi(line) : line;
}

/** Who is searching now, against SEARCH_CONCURRENCY. */
export class SearchSlots {
  private running = 0;
  private readonly perUser = new Map<string, number>();

  constructor(private readonly limits: { perUser: number; perProcess: number } = SEARCH_CONCURRENCY) {}

  /** A slot for `user` (call the returned function once, when the search ends), or why not. */
  take(user: string): { release: () => void } | { refused: string } {
    const mine = this.perUser.get(user) ?? 0;
    if (mine >= this.limits.perUser)
      return {
        refused: `you have ${mine} searches running (at most ${this.limits.perUser}); wait for one to end`,
      };
    if (this.running >= this.limits.perProcess)
      return {
        refused: `this gateway is running ${this.running} searches (at most ${this.limits.perProcess}); try again shortly`,
      };
    this.running++;
    this.perUser.set(user, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        const left = (this.perUser.get(user) ?? 1) - 1;
        if (left > 0) this.perUser.set(user, left);
        else this.perUser.delete(user);
      },
    };
  }
}

/**
 * Searches a job's log up to `toSeq`. Yields to the event loop after SEARCH_SLICE_MS of CPU in
 * one turn, and stops (rejecting with the signal's reason) once `signal` aborts: the client left.
 */
export async function searchOutput(
  output: OutputReader,
  jobId: string,
  { query, limit, toSeq, signal }: { query: string; limit: number; toSeq: number; signal?: AbortSignal },
): Promise<SearchResult> {
  const needle = query.toLowerCase();
  const matches: SearchMatch[] = [];
  let total = 0;
  let seq = 1;
  let sliceStartedAt = performance.now();
  while (seq <= toSeq) {
    signal?.throwIfAborted();
    const page = await output.read(jobId, seq, SEARCH_PAGE_LINES, {
      toSeq,
      maxBytes: SEARCH_PAGE_BYTES,
    });
    if (page.entries.length === 0) break;
    sliceStartedAt = performance.now(); // a Redis round trip is a turn of its own
    for (let i = 0; i < page.entries.length; i++) {
      if (i % 32 === 31 && performance.now() - sliceStartedAt > SEARCH_SLICE_MS) {
        await yieldTurn();
        signal?.throwIfAborted();
        sliceStartedAt = performance.now();
      }
      const { seq: lineSeq, line } = JSON.parse(page.entries[i]!.toString('utf8')) as OutputLine;
      if (!plainText(line).toLowerCase().includes(needle)) continue;
      total += 1;
      if (matches.length < limit) matches.push({ seq: lineSeq, line });
    }
    seq = page.fromSeq + page.entries.length;
  }
  return { matches, total, truncated: total > matches.length };
}
