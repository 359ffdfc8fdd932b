/**
 * The viewer's toolbar: connection and streaming state, search across the whole retained log
 * (use-log-search.ts) with the current match, the timestamps and wrap toggles, and the download.
 */
import { useEffect, useState } from 'react';
import type { ConnectionState } from '../../../packages/client/src/index.js';
import { downloadOutput, viewRawOutput } from '../api/queries.js';
import type { LogSearch } from '../react/use-log-search.js';
import { useNow } from '../react/use-now.js';
import { ConnectionBadge } from './badges.js';

export function ViewerToolbar({
  jobId,
  connection,
  streamingSeq,
  search,
  showTime,
  setShowTime,
  wrap,
  setWrap,
}: {
  jobId: string;
  connection: ConnectionState;
  /** The last seq while lines can arrive (the job runs, the socket is open), else null. */
  streamingSeq: number | null;
  /** The search, or null in a compact pane (no search, toggles or download there). */
  search: LogSearch | null;
  showTime: boolean;
  setShowTime: (on: boolean) => void;
  wrap: boolean;
  setWrap: (on: boolean) => void;
}) {
  return (
    <div className="toolbar">
      <ConnectionBadge state={connection} />
      {streamingSeq !== null && <StreamingBadge lastSeq={streamingSeq} />}
      {search && (
        <>
          <input
            aria-label="Search output"
            placeholder="Search"
            value={search.query}
            onChange={(e) => search.setQuery(e.target.value)}
            onKeyDown={(e) => e.key === 'Enter' && search.goToMatch(e.shiftKey ? -1 : 1)}
          />
          {search.query && search.error && (
            <span className="matches" role="alert">
              search failed: {search.error}
            </span>
          )}
          {search.query && search.results && (
            <span className="matches" aria-live="polite">
              {search.results.total === 0
                ? 'no matches'
                : `${search.matchIndex + 1} / ${search.results.total}${search.results.truncated ? ` (first ${search.results.matches.length} listed)` : ''}`}
              <button onClick={() => search.goToMatch(-1)} aria-label="Previous match">
                ↑
              </button>
              <button onClick={() => search.goToMatch(1)} aria-label="Next match">
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
          <button type="button" onClick={() => void viewRawOutput(jobId)}>
            View raw
          </button>
          <button type="button" onClick={() => void downloadOutput(jobId)}>
            Download
          </button>
        </>
      )}
    </div>
  );
}

/** A line within this long keeps "streaming" lit; after that a running job is "waiting for output". */
const QUIET_AFTER_MS = 10_000;

/** Its own clock, so only this badge re-renders every second, not the whole viewer. */
function StreamingBadge({ lastSeq }: { lastSeq: number }) {
  const now = useNow(1000);
  const [lastLineAt, setLastLineAt] = useState(() => Date.now());
  useEffect(() => setLastLineAt(Date.now()), [lastSeq]);
  return now - lastLineAt < QUIET_AFTER_MS ? (
    <span className="streaming" title="lines are arriving">
      ● streaming
    </span>
  ) : (
    <span className="quiet" title="the job runs but has printed nothing lately">
      waiting for output
    </span>
  );
}
