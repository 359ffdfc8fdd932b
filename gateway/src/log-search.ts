/**
 * Searching a job's whole retained log (`GET /api/jobs/:id/search`): the text of each line with
 * its ANSI codes removed, case-insensitive as JavaScript's `toLowerCase`. It pages through the
 * list with `jobstream_read` (bounded pages, so a 100,000-line job never sits in memory at once)
 * up to the job's `seq` when the search began, and counts every match while keeping at most
 * `limit` of them.
 */
import stripAnsi from 'strip-ansi';
import type { OutputLine } from '../../shared/protocol.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { SEARCH_PAGE_BYTES, SEARCH_PAGE_LINES } from './limits.js';
import { readOutput } from './store.js';

export interface SearchMatch {
  seq: number;
  line: string;
}

export interface SearchResult {
  matches: SearchMatch[];
  /** Every match in the retained lines, also those past `limit`. */
  total: number;
  truncated: boolean;
}

/** The line as a reader sees it: no ANSI codes, for matching and for plain-text downloads. */
export function plainText(line: string): string {
  return line.includes('\u001b') || line.includes('\u009b') ? stripAnsi(line) : line;
}

export async function searchOutput(
  redis: RedisConnection,
  jobId: string,
  { query, limit, toSeq }: { query: string; limit: number; toSeq: number },
): Promise<SearchResult> {
  const needle = query.toLowerCase();
  const matches: SearchMatch[] = [];
  let total = 0;
  let seq = 1;
  while (seq <= toSeq) {
    const page = await readOutput(redis, jobId, seq, SEARCH_PAGE_LINES, {
      toSeq,
      maxBytes: SEARCH_PAGE_BYTES,
    });
    if (page.entries.length === 0) break;
    for (const entry of page.entries) {
      const { seq: lineSeq, line } = JSON.parse(entry.toString('utf8')) as OutputLine;
      if (!plainText(line).toLowerCase().includes(needle)) continue;
      total += 1;
      if (matches.length < limit) matches.push({ seq: lineSeq, line });
    }
    seq = page.fromSeq + page.entries.length;
  }
  return { matches, total, truncated: total > matches.length };
}
