/**
 * What the log viewer shows beyond the live view's last 10,000 lines, read over HTTP:
 * - earlier lines, paged in from `output?before=` as the reader scrolls up (contiguous with the
 *   live lines, so the view simply grows upwards), at most `MAX_EARLIER` of them;
 * - a window of lines around any seq (a permalink or a search hit far back), shown instead of the
 *   live view until the reader goes back to the latest.
 * Memory stays bounded: a window and a capped run of earlier lines, never the whole job.
 */
import { useCallback, useRef, useState } from 'react';
import { outputBefore, outputSince } from '../api/queries.js';
import type { OutputLine } from '../../../shared/protocol.js';
import { AnsiStyler, type ViewLine } from '../../../packages/client/src/index.js';

export const PAGE_LINES = 1000;
/** Earlier lines kept at most; past this the reader opens windows (or downloads). */
export const MAX_EARLIER = 50_000;

export interface LogWindow {
  /** Lines before the live view's first, oldest first. */
  earlier: readonly ViewLine[];
  /** Lines around a seq, shown instead of the live view; null while following the live view. */
  around: readonly ViewLine[] | null;
  loading: boolean;
  error: string | null;
  /** A page before came back empty: nothing earlier is retained. */
  exhausted: boolean;
  /** Lines a page said are gone for good (trimmed before any archive kept them), if any. */
  gone: { fromSeq: number; toSeq: number } | null;
  loadEarlier(beforeSeq: number): void;
  openAt(seq: number): Promise<void>;
  backToLive(): void;
}

const styled = (lines: readonly OutputLine[]): ViewLine[] => {
  const styler = new AnsiStyler();
  return lines.map((line) => styler.style(line));
};

export function useLogWindow(jobId: string): LogWindow {
  const [earlier, setEarlier] = useState<readonly ViewLine[]>([]);
  const [around, setAround] = useState<readonly ViewLine[] | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [exhausted, setExhausted] = useState(false);
  const [gone, setGone] = useState<{ fromSeq: number; toSeq: number } | null>(null);
  const busy = useRef(false);

  const run = useCallback(async (work: () => Promise<void>) => {
    if (busy.current) return;
    busy.current = true;
    setLoading(true);
    try {
      await work();
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      busy.current = false;
      setLoading(false);
    }
  }, []);

  const loadEarlier = useCallback(
    (beforeSeq: number) =>
      void run(async () => {
        const page = await outputBefore(jobId, beforeSeq, PAGE_LINES);
        const lines = styled(page.lines);
        if (page.gap) setGone(page.gap);
        if (lines.length === 0 || page.gap) setExhausted(true);
        setEarlier((current) => {
          const first = current[0]?.seq;
          // Only a page that ends where the held run begins joins it (a late answer does not).
          if (first !== undefined && lines.at(-1)?.seq !== first - 1) return current;
          return [...lines, ...current].slice(0, MAX_EARLIER);
        });
      }),
    [jobId, run],
  );

  const openAt = useCallback(
    (seq: number) =>
      run(async () => {
        const page = await outputSince(jobId, Math.max(0, seq - PAGE_LINES / 2 - 1), PAGE_LINES);
        if (page.gap) setGone(page.gap);
        setAround(styled(page.lines));
      }),
    [jobId, run],
  );

  const backToLive = useCallback(() => setAround(null), []);
  return { earlier, around, loading, error, exhausted, gone, loadEarlier, openAt, backToLive };
}
