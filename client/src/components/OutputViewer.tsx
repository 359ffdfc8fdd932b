/**
 * The output viewer: virtualised (@tanstack/react-virtual) so 100,000 lines stay smooth; ANSI
 * colours from the line store (parsed once per line, rendered as spans, never innerHTML);
 * stderr marked; seq line numbers as permalinks (#L123); follow mode that pauses when the reader
 * scrolls up, with "Jump to latest (N new)"; timestamps and wrap toggles; download of the whole
 * output; notices for gaps; the line still being written (a `\r` progress bar) as a pending last
 * row, replaced by the stored line when it ends.
 *
 * Long logs, honestly: the live view holds the last 10,000 lines and says which ("Lines
 * 90,001–100,000 of 100,000 · Load earlier"); scrolling to the top pages earlier lines in over
 * HTTP; a permalink or search hit further back opens a window of lines around it
 * (use-log-window.ts). Search covers the whole retained log on the server, with a total.
 */
import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { downloadOutput } from '../api/queries.js';
import { count } from './format.js';
import { MAX_EARLIER, useLogWindow } from '../react/use-log-window.js';
import { useLogSearch } from '../react/use-log-search.js';
import type { JobStream } from '../react/use-job-stream.js';
import { groupsHolding, groupsOf, openByDefault, visibleLines } from './groups.js';
import { LineText } from './LineText.js';
import type { ViewLine } from '../../../packages/client/src/index.js';
import { ViewerToolbar } from './ViewerToolbar.js';

/** Screens this narrow (a phone held upright) wrap long lines by default. */
const NARROW_SCREEN = '(max-width: 600px)';

export function OutputViewer({
  jobId,
  stream,
  compact = false,
}: {
  jobId: string;
  stream: JobStream;
  compact?: boolean;
}) {
  const { lines: liveLines, gaps } = stream.lines;
  // Shown only under the live lines (not in a window of older ones).
  const pending = stream.lines.pending;
  const log = useLogWindow(jobId);
  const first = liveLines[0];
  const joined = log.earlier.length > 0 && first !== undefined && log.earlier.at(-1)!.seq + 1 === first.seq;
  const allLines = useMemo(
    () => log.around ?? (joined ? [...log.earlier, ...liveLines] : liveLines),
    [log.around, log.earlier, liveLines, joined],
  );
  const total = Math.max(stream.lines.lastSeq, stream.done?.lastSeq ?? 0, stream.job?.lastSeq ?? 0);
  const firstShown = allLines[0]?.seq ?? 0;
  const lastShown = allLines.at(-1)?.seq ?? 0;
  // `::group::` sections: open or closed as the reader chose, else by default (groups.ts).
  const groups = useMemo(() => groupsOf(allLines), [allLines]);
  const [chosen, setChosen] = useState<ReadonlyMap<number, boolean>>(new Map());
  const isOpen = useCallback(
    (header: number) => {
      const group = groups.get(header);
      return chosen.get(header) ?? (group ? openByDefault(group) : true);
    },
    [groups, chosen],
  );
  const lines = useMemo(() => visibleLines(allLines, isOpen), [allLines, isOpen]);
  const toggleGroup = (seq: number) => setChosen((current) => new Map(current).set(seq, !isOpen(seq)));
  const openGroupsHolding = (seq: number) =>
    setChosen((current) => {
      const next = new Map(current);
      for (const header of groupsHolding(groups, seq)) next.set(header, true);
      return next;
    });
  const parentRef = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  /** The last seq shown while following: what arrived after it is "new" (by seq: a capped store keeps its length). */
  const [seenSeq, setSeenSeq] = useState(0);
  const lastSeq = lines.at(-1)?.seq ?? 0;
  const [showTime, setShowTime] = useState(false);
  // On a phone a long line cut at the screen's edge cannot be read (no room to scroll sideways):
  // wrap is on there by default; on a wide screen off, so each line stays one row.
  const [wrap, setWrap] = useState(() => window.matchMedia?.(NARROW_SCREEN).matches ?? false);
  /** A seq to bring into view (a permalink, a search hit), once it is loaded. */
  const [target, setTarget] = useState(0);
  const search = useLogSearch(jobId, setTarget);
  // A permalink click changes only the hash (no reload): follow it.
  const [highlighted, highlightedTo] = parseLineMark(useSyncExternalStore(subscribeToHash, lineMark));

  const virtualizer = useVirtualizer({
    count: lines.length,
    getScrollElement: () => parentRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 30,
  });

  useEffect(() => {
    if (follow && (lines.length > 0 || pending) && !log.around) {
      // One scrollTop write (the browser clamps it to the bottom). scrollToIndex reads the
      // layout to find its target: a forced layout per pane per batch, a profile's top cost.
      const el = parentRef.current;
      if (el) el.scrollTop = virtualizer.getTotalSize() + (pending ? ROW_HEIGHT : 0);
      setSeenSeq(lastSeq);
    }
  }, [follow, lines.length, lastSeq, virtualizer, log.around, pending]);

  const openedFor = useRef(0);
  // A permalink: brought into view once (new batches on a running job do not snap back to it).
  useEffect(() => {
    if (highlighted) setTarget(highlighted);
  }, [highlighted]);

  useEffect(() => {
    if (!target) return;
    const index = lines.findIndex((l) => l.seq === target);
    if (index >= 0) {
      setFollow(false);
      // After a window replaced the rows, the virtualiser's measurements lag a frame behind.
      requestAnimationFrame(() => virtualizer.scrollToIndex(index, { align: 'center' }));
      setTarget(0);
    } else if (allLines.some((l) => l.seq === target)) {
      openGroupsHolding(target); // inside a closed group: open it (and the groups around it)
    } else if (target < firstShown || (target <= total && target > lastShown && log.around)) {
      // Not held: load the lines around it, once (a line no longer retained is not there either).
      if (log.loading) return; // its window is on the way
      if (openedFor.current === target) setTarget(0);
      else {
        openedFor.current = target;
        void log.openAt(target);
      }
    }
  }, [target, lines, allLines, firstShown, lastShown, total, log, virtualizer]);

  // A reader who is not following keeps their lines still, anchored on a seq, not a pixel:
  // earlier lines added above, or old ones evicted at the store's cap while lines stream in,
  // would otherwise move the text under them.
  const shownBefore = useRef<readonly ViewLine[]>([]);
  useLayoutEffect(() => {
    const el = parentRef.current;
    const before = shownBefore.current;
    shownBefore.current = lines;
    if (!el || follow || before.length === 0 || before === lines) return;
    const topIndex = Math.min(Math.floor(el.scrollTop / ROW_HEIGHT), before.length - 1);
    const anchor = before[topIndex]!.seq;
    if (lines[topIndex]?.seq === anchor) return; // nothing moved above the reader
    const now = lines.findIndex((l) => l.seq >= anchor); // evicted itself: the next line held
    if (now >= 0) el.scrollTop = now * ROW_HEIGHT + (el.scrollTop - topIndex * ROW_HEIGHT);
  }, [lines, follow]);

  const canLoadEarlier = !log.around && firstShown > 1 && !log.exhausted && log.earlier.length < MAX_EARLIER;

  const onScroll = () => {
    const el = parentRef.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (el.scrollTop < ROW_HEIGHT * 5 && canLoadEarlier && !log.loading) log.loadEarlier(firstShown);
    if (!atBottom && follow) setFollow(false);
    if (atBottom && !follow && !log.around) setFollow(true);
  };

  const fresh = follow ? 0 : Math.max(0, lastSeq - seenSeq);
  // "streaming" only while lines can arrive: the job runs and the socket is open.
  const streaming = stream.job?.status === 'running' && !stream.done && stream.connection === 'open';

  return (
    <div className={`viewer ${compact ? 'compact' : ''}`} data-testid={`viewer-${jobId}`}>
      <ViewerToolbar
        jobId={jobId}
        connection={stream.connection}
        streamingSeq={streaming ? stream.lines.lastSeq : null}
        search={compact ? null : search}
        showTime={showTime}
        setShowTime={setShowTime}
        wrap={wrap}
        setWrap={setWrap}
      />
      {stream.error && (
        <div className="notice error" role="alert">
          {stream.error.code}: {stream.error.message}
        </div>
      )}
      {(firstShown > 1 || log.around) && (
        <div className="notice range">
          Lines {count(firstShown)}–{count(lastShown)} of {count(total)}
          {' · '}
          {log.around ? (
            <button type="button" className="link" onClick={() => (log.backToLive(), setFollow(true))}>
              Back to the latest
            </button>
          ) : canLoadEarlier ? (
            <button
              type="button"
              className="link"
              disabled={log.loading}
              onClick={() => log.loadEarlier(firstShown)}
            >
              {log.loading ? 'loading…' : 'Load earlier'}
            </button>
          ) : (
            <>
              {log.exhausted
                ? log.gone
                  ? `lines ${count(log.gone.fromSeq)}–${count(log.gone.toSeq)} are no longer kept · `
                  : 'earlier lines are no longer kept · '
                : ''}
              <button type="button" className="link" onClick={() => void downloadOutput(jobId)}>
                Download the full output
              </button>
            </>
          )}
          {log.error && <span role="alert"> · could not load: {log.error}</span>}
        </div>
      )}
      {highlighted > 0 && log.gone && highlighted >= log.gone.fromSeq && highlighted <= log.gone.toSeq && (
        <div className="notice" role="alert">
          Line {count(highlighted)} is no longer kept: lines {count(log.gone.fromSeq)}–{count(log.gone.toSeq)}{' '}
          of this job were removed before they could be archived.
        </div>
      )}
      {gaps.map((g) => (
        <div className="notice" key={`${g.fromSeq}-${g.toSeq}`}>
          Lines {g.fromSeq}–{g.toSeq} are no longer available ({g.reason}).
        </div>
      ))}
      <div
        ref={parentRef}
        className={`lines ${wrap ? 'wrap' : ''}`}
        onScroll={onScroll}
        data-testid="lines"
        // One tab stop for the whole log: arrow keys and Page Up/Down scroll it.
        tabIndex={0}
        role="log"
        aria-label={`Output of ${stream.job?.title ?? jobId}`}
      >
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
                className={`line ${line.stream} ${highlighted && line.seq >= highlighted && line.seq <= highlightedTo ? 'highlight' : ''} ${line.seq === search.currentMatch && search.query ? 'match' : ''}`}
                style={{
                  position: 'absolute',
                  top: 0,
                  left: 0,
                  width: '100%',
                  transform: `translateY(${item.start}px)`,
                }}
              >
                <a
                  className="seq"
                  href={`#L${line.seq}`}
                  id={`L${line.seq}`}
                  onClick={(e) => {
                    // Shift-click marks a range from the line already marked, as GitHub does.
                    if (!e.shiftKey || !highlighted) return;
                    e.preventDefault();
                    const [from, to] = parseLineMark(`L${highlighted}-L${line.seq}`);
                    window.location.hash = `L${from}-L${to}`;
                  }}
                >
                  {line.seq}
                </a>
                {showTime && <span className="ts">{new Date(line.ts).toLocaleTimeString()}</span>}
                <LineText
                  line={line}
                  folded={!isOpen(line.seq)}
                  group={groups.get(line.seq)}
                  mark={search.results && search.results.total > 0 ? search.query : undefined}
                  onToggle={() => toggleGroup(line.seq)}
                />
              </div>
            );
          })}
        </div>
        {pending && !log.around && (
          <div
            className={`line pending ${pending.stream}`}
            data-testid="pending-line"
            title="being written: stored when its line ends"
          >
            <span className="seq" aria-hidden="true">
              ›
            </span>
            <LineText line={pending} />
          </div>
        )}
      </div>
      {!follow && !log.around && fresh > 0 && (
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

/** px; matches `.lines` line-height in styles/viewer.css. */
const ROW_HEIGHT = 18;

function subscribeToHash(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

/** The seq named by a `#L123` address, or 0. */
/** The line mark of the address: `#L123` or `#L10-L20` (as a string: a stable snapshot). */
const lineMark = (): string => /^#(L\d+(?:-L\d+)?)(?:&|$)/.exec(window.location.hash)?.[1] ?? '';

/** `L10-L20` → [10, 20]; `L123` → [123, 123]; none → [0, 0]. */
export function parseLineMark(mark: string): [number, number] {
  const match = /^L(\d+)(?:-L(\d+))?$/.exec(mark);
  if (!match) return [0, 0];
  const a = Number(match[1]);
  const b = Number(match[2] ?? match[1]);
  return [Math.min(a, b), Math.max(a, b)];
}
