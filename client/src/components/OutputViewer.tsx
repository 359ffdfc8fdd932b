/**
 * The output viewer: virtualised (@tanstack/react-virtual) so 100,000 lines stay smooth; ANSI
 * colours from the line store (parsed once per line, rendered as spans, never innerHTML);
 * stderr marked; seq line numbers as permalinks (#L123); follow mode that pauses when the reader
 * scrolls up, with "Jump to latest (N new)"; search with count and next/previous; timestamps
 * and wrap toggles; download of the whole output; notices for gaps and dropped lines.
 */
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { downloadOutput } from '../api/queries.js';
import type { JobStream } from '../react/use-job-stream.js';
import { ConnectionBadge } from './badges.js';
import { withoutFoldedGroups } from './groups.js';
import { LineText } from './LineText.js';

export function OutputViewer({
  jobId,
  stream,
  compact = false,
}: {
  jobId: string;
  stream: JobStream;
  compact?: boolean;
}) {
  const { lines: allLines, gaps, dropped } = stream.lines;
  // `::group::` sections the reader folded, by the seq of their header line.
  const [folded, setFolded] = useState<ReadonlySet<number>>(new Set());
  const lines = useMemo(() => withoutFoldedGroups(allLines, folded), [allLines, folded]);
  const toggleGroup = (seq: number) =>
    setFolded((current) => {
      const next = new Set(current);
      if (!next.delete(seq)) next.add(seq);
      return next;
    });
  const parentRef = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  const [seenCount, setSeenCount] = useState(0);
  const [showTime, setShowTime] = useState(false);
  const [wrap, setWrap] = useState(false);
  const [query, setQuery] = useState('');
  const [matchIndex, setMatchIndex] = useState(0);
  // A permalink click changes only the hash (no reload): follow it.
  const highlighted = useSyncExternalStore(subscribeToHash, highlightedSeq);

  const virtualizer = useVirtualizer({
    count: lines.length,
    getScrollElement: () => parentRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 30,
  });

  const matches = useMemo(() => {
    if (!query) return [];
    const needle = query.toLowerCase();
    const found: number[] = [];
    lines.forEach((l, i) => l.line.toLowerCase().includes(needle) && found.push(i));
    return found;
  }, [lines, query]);

  useEffect(() => {
    if (follow && lines.length > 0) {
      // One scrollTop write (the browser clamps it to the bottom). scrollToIndex reads the
      // layout to find its target: a forced layout per pane per batch, a profile's top cost.
      const el = parentRef.current;
      if (el) el.scrollTop = virtualizer.getTotalSize();
      setSeenCount(lines.length);
    }
  }, [follow, lines.length, virtualizer]);

  useEffect(() => {
    if (!highlighted) return;
    const index = lines.findIndex((l) => l.seq === highlighted);
    if (index >= 0) {
      setFollow(false);
      virtualizer.scrollToIndex(index, { align: 'center' });
    }
  }, [highlighted, lines, virtualizer]);

  const goToMatch = (delta: number) => {
    if (matches.length === 0) return;
    const next = (matchIndex + delta + matches.length) % matches.length;
    setMatchIndex(next);
    setFollow(false);
    virtualizer.scrollToIndex(matches[next]!, { align: 'center' });
  };

  const onScroll = () => {
    const el = parentRef.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (!atBottom && follow) setFollow(false);
    if (atBottom && !follow) setFollow(true);
  };

  const fresh = follow ? 0 : lines.length - seenCount;
  const streaming = stream.job?.status === 'running' && !stream.done;

  return (
    <div className={`viewer ${compact ? 'compact' : ''}`} data-testid={`viewer-${jobId}`}>
      <div className="toolbar">
        <ConnectionBadge state={stream.connection} />
        {streaming && (
          <span className="streaming" title="lines are flowing">
            ● streaming
          </span>
        )}
        {!compact && (
          <>
            <input
              aria-label="Search output"
              placeholder="Search"
              value={query}
              onChange={(e) => {
                setQuery(e.target.value);
                setMatchIndex(0);
              }}
              onKeyDown={(e) => e.key === 'Enter' && goToMatch(e.shiftKey ? -1 : 1)}
            />
            {query && (
              <span className="matches">
                {matches.length === 0 ? 'no matches' : `${matchIndex + 1} / ${matches.length}`}
                <button onClick={() => goToMatch(-1)} aria-label="Previous match">
                  ↑
                </button>
                <button onClick={() => goToMatch(1)} aria-label="Next match">
                  ↓
                </button>
              </span>
            )}
            <label>
              <input type="checkbox" checked={showTime} onChange={(e) => setShowTime(e.target.checked)} />{' '}
              timestamps
            </label>
            <label>
              <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> wrap
            </label>
            <button type="button" onClick={() => void downloadOutput(jobId)}>
              Download
            </button>
          </>
        )}
      </div>
      {stream.error && (
        <div className="notice error" role="alert">
          {stream.error.code}: {stream.error.message}
        </div>
      )}
      {dropped > 0 && (
        <div className="notice">
          {dropped} earlier lines are not shown here.{' '}
          <button type="button" className="link" onClick={() => void downloadOutput(jobId)}>
            Download the full output
          </button>
        </div>
      )}
      {gaps.map((g) => (
        <div className="notice" key={`${g.fromSeq}-${g.toSeq}`}>
          Lines {g.fromSeq}–{g.toSeq} are no longer available ({g.reason}).
        </div>
      ))}
      <div ref={parentRef} className={`lines ${wrap ? 'wrap' : ''}`} onScroll={onScroll} data-testid="lines">
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((item) => {
            const line = lines[item.index]!;
            return (
              <div
                key={line.seq}
                // Rows are one line high unless wrapping: only then is each one measured (a
                // ResizeObserver per row at thousands of lines a second made long tasks).
                ref={wrap ? virtualizer.measureElement : undefined}
                data-index={item.index}
                data-seq={line.seq}
                className={`line ${line.stream} ${line.seq === highlighted ? 'highlight' : ''} ${matches[matchIndex] === item.index && query ? 'match' : ''}`}
                style={{
                  position: 'absolute',
                  top: 0,
                  left: 0,
                  width: '100%',
                  transform: `translateY(${item.start}px)`,
                }}
              >
                <a className="seq" href={`#L${line.seq}`} id={`L${line.seq}`}>
                  {line.seq}
                </a>
                {showTime && <span className="ts">{new Date(line.ts).toLocaleTimeString()}</span>}
                <LineText line={line} folded={folded.has(line.seq)} onToggle={() => toggleGroup(line.seq)} />
              </div>
            );
          })}
        </div>
      </div>
      {!follow && fresh > 0 && (
        <button className="jump" onClick={() => setFollow(true)}>
          Jump to latest ({fresh} new)
        </button>
      )}
      {stream.done && (
        <div className="notice done">
          Finished: {stream.done.status} · {stream.done.lastSeq} lines
        </div>
      )}
    </div>
  );
}

/** px; matches `.lines` line-height in styles.css. */
const ROW_HEIGHT = 18;

function subscribeToHash(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

/** The seq named by a `#L123` address, or 0. */
const highlightedSeq = (): number => Number(/^#L(\d+)$/.exec(window.location.hash)?.[1] ?? 0);
