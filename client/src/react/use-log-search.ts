/**
 * Searching the whole retained log of a job from the viewer: the text typed, sent once typing
 * pauses (SEARCH_DELAY_MS) through a query option (cached per text; a failure is an error, never
 * "no matches"), and which match is current. `onMatch` is called with the seq to bring into view:
 * the first match of each new result, and each match stepped to.
 */
import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { SearchResult } from '../../../shared/http-api.js';
import { searchQuery } from '../api/queries.js';

const SEARCH_DELAY_MS = 250;

export interface LogSearch {
  query: string;
  setQuery: (query: string) => void;
  results: SearchResult | null;
  error: string | null;
  matchIndex: number;
  /** The seq of the current match, 0 when none. */
  currentMatch: number;
  /** Steps to the next (1) or previous (-1) match, wrapping around. */
  goToMatch: (delta: number) => void;
}

export function useLogSearch(jobId: string, onMatch: (seq: number) => void): LogSearch {
  const [query, setQuery] = useState('');
  const [sent, setSent] = useState('');
  const [matchIndex, setMatchIndex] = useState(0);
  useEffect(() => {
    const timer = setTimeout(() => setSent(query), query ? SEARCH_DELAY_MS : 0);
    return () => clearTimeout(timer);
  }, [query]);
  const search = useQuery(searchQuery(jobId, sent));
  const results = query && search.data && sent === query ? search.data : null;
  const first = results?.matches[0]?.seq ?? 0;
  useEffect(() => {
    setMatchIndex(0);
    if (first) onMatch(first);
    // Only a new result moves the view, not a new `onMatch` identity.
  }, [results]);
  const goToMatch = (delta: number): void => {
    const count = results?.matches.length ?? 0;
    if (count === 0) return;
    const next = (matchIndex + delta + count) % count;
    setMatchIndex(next);
    onMatch(results!.matches[next]!.seq);
  };
  return {
    query,
    setQuery,
    results,
    error: query && search.error ? search.error.message : null,
    matchIndex,
    currentMatch: results?.matches[matchIndex]?.seq ?? 0,
    goToMatch,
  };
}
