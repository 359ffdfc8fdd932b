/** The wall: every running job as a tile, for a screen across the room. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import { fetchJobPage, jobListQuery } from '../api/queries.js';
import { StatusBadge } from '../components/badges.js';
import { LineText } from '../components/LineText.js';
import { getToken } from '../core/token.js';
import { claims } from '../../../packages/client/src/index.js';
import { useJobStream } from '../react/use-job-stream.js';
import { useJobsFeed } from '../react/use-jobs-feed.js';
import { useNow } from '../react/use-now.js';
import { useConnectionState } from '../react/use-connection-state.js';
import { duration } from '../components/format.js';
import { ownPart, sharedStart } from '../components/titles.js';

/** Lines a tile asks for: more than fit on any screen, far fewer than a log view keeps. */
const TILE_LINES = 40;

/** One running (or lately failed) job, read from across a room; nothing to click: a kiosk. */
function WallTile({
  job,
  now,
  silentMs,
  sharedTitle,
}: {
  job: Job;
  now: number;
  silentMs: number;
  /** The start every tile's title shares: said once in the header, left out here. */
  sharedTitle: string;
}) {
  const stream = useJobStream(job.id, { tail: TILE_LINES });
  const last = stream.lines.lines.slice(-TILE_LINES);
  const connection = useConnectionState();
  const current = stream.job ?? job;
  // The runner's last sign of life; silent too long, it is probably gone (the reaper will say).
  const lastSign = Math.max(
    job.heartbeatAt ?? 0,
    current.heartbeatAt ?? 0,
    current.startedAt ?? 0,
    current.createdAt,
  );
  const silent = current.status === 'running' && now - lastSign > silentMs;
  return (
    <section className={`tile tile-${current.status}`} data-testid={`tile-${job.id}`}>
      <header>
        <h2 className="tile-title" title={current.title}>
          {ownPart(current.title, sharedTitle)}
        </h2>
        <StatusBadge status={current.status} />
        <span className="tile-meta">
          {current.owner} · {duration(current, now)}
          {current.exitCode !== undefined && current.status === 'failed' ? ` · exit ${current.exitCode}` : ''}
        </span>
        {silent && (
          <span className="no-heartbeat" role="status">
            no heartbeat for {Math.round((now - lastSign) / 1000)} s
          </span>
        )}
      </header>
      {current.status === 'failed' && current.errorMessage && (
        <p className="tile-error">{current.errorMessage}</p>
      )}
      {/* A tile that pages in while the wall is offline shows what is known, and says the rest is coming. */}
      {last.length === 0 && connection !== 'open' && (
        <p className="tile-waiting" role="status">
          Its output appears when the connection is back.
        </p>
      )}
      {/* Newest at the bottom; as many as the tile has room for (the rest are cut off above). */}
      <pre className="tile-log">
        {last.map((l) => (
          <div key={l.seq}>
            <LineText line={l} />
          </div>
        ))}
      </pre>
    </section>
  );
}

/**
 * Every running job as a tile, for a screen across the room: tiles appear when a job starts and
 * leave when it ends; failures stay `keepFailedS` (120) in red, those from just before the wall
 * opened included. All on one screen up to
 * `perPage` (12) tiles; beyond that it pages every `pageS` (10) seconds. Settings in the URL.
 */
export function WallPage() {
  const settings = useMemo(() => {
    const params = new URLSearchParams(window.location.search);
    const number = (name: string, fallback: number) => Math.max(1, Number(params.get(name)) || fallback);
    return {
      keepFailedMs: number('keepFailedS', 120) * 1000,
      // Half the gateway's default runner timeout (60 s): the reaper finishes the job at 60 s.
      silentMs: number('silentS', 30) * 1000,
      perPage: number('perPage', 12),
      pageMs: number('pageS', 10) * 1000,
    };
  }, []);
  // Every running job (all pages of them); jobs that fail meanwhile arrive on the feed.
  const { data, hasNextPage, isFetchingNextPage, fetchNextPage } = useInfiniteQuery(
    // Refetched now and then: heartbeats are not announced on the feed, the list carries them.
    { ...jobListQuery({ status: 'running' }), refetchInterval: 15_000 },
  );
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);
  // Jobs that failed shortly before the wall opened (or while it could not hear the feed): the
  // newest failures, kept as long as the feed's would be.
  const { data: failed } = useQuery({
    queryKey: ['wall', 'failed'],
    queryFn: () => fetchJobPage({ status: 'failed', limit: 50 }),
    refetchInterval: 15_000,
  });
  const [seen, setSeen] = useState<Map<string, Job>>(new Map());
  const onJob = useCallback((job: Job) => setSeen((m) => new Map(m).set(job.id, job)), []);
  useJobsFeed(onJob);
  const now = useNow(1000);
  const all = new Map<string, Job>();
  for (const job of data?.pages.flatMap((page) => page.jobs) ?? []) all.set(job.id, job);
  for (const job of failed?.jobs ?? []) all.set(job.id, job);
  for (const [id, job] of seen) {
    // The feed's copy is newer for status; the list's may be newer for the heartbeat.
    const listed = all.get(id);
    const heartbeatAt = Math.max(job.heartbeatAt ?? 0, listed?.heartbeatAt ?? 0);
    all.set(id, heartbeatAt > 0 ? { ...job, heartbeatAt } : job);
  }
  const tiles = [...all.values()]
    .filter(
      (j) =>
        j.status === 'running' ||
        (j.status === 'failed' && now - (j.finishedAt ?? 0) < settings.keepFailedMs),
    )
    // Failures first, then the oldest running job first.
    .sort(
      (a, b) => Number(b.status === 'failed') - Number(a.status === 'failed') || a.createdAt - b.createdAt,
    );
  const pages = Math.max(1, Math.ceil(tiles.length / settings.perPage));
  const page = Math.floor(now / settings.pageMs) % pages;
  const shown = tiles.slice(page * settings.perPage, (page + 1) * settings.perPage);
  const columns = Math.max(1, Math.ceil(Math.sqrt(shown.length)));
  const sharedTitle = sharedStart(shown.map((j) => j.title));
  const user = claims(getToken());
  const connection = useConnectionState();
  const [lostSince, setLostSince] = useState<number | null>(null);
  useEffect(() => {
    setLostSince((since) => (connection === 'open' ? null : (since ?? Date.now())));
  }, [connection]);
  return (
    <main className="wall">
      {lostSince !== null && (
        <div className="wall-banner" role="alert" aria-live="assertive">
          Disconnected since{' '}
          {new Date(lostSince).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: reconnecting…
          tiles show what arrived before.
        </div>
      )}
      {user?.role !== 'admin' && (
        <p className="notice">The wall shows every job to admins; you see your own.</p>
      )}
      {/* Across a room: how things stand, and that the wall is alive (its clock moves). */}
      <header className="wall-head">
        {sharedTitle && <span className="wall-shared-title">{sharedTitle.trim()}…</span>}
        <span data-testid="wall-totals">
          {tiles.filter((j) => j.status === 'running').length} running ·{' '}
          {tiles.filter((j) => j.status === 'failed').length} failed
        </span>
        <time dateTime={new Date(now).toISOString()}>
          {new Date(now).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </time>
      </header>
      {tiles.length === 0 && <p className="idle">Nothing running.</p>}
      {pages > 1 && (
        <p className="wall-page">
          page {page + 1} of {pages} · {tiles.length} jobs
        </p>
      )}
      <div className="wall-grid" style={{ gridTemplateColumns: `repeat(${columns}, 1fr)` }}>
        {shown.map((job) => (
          <WallTile key={job.id} job={job} now={now} silentMs={settings.silentMs} sharedTitle={sharedTitle} />
        ))}
      </div>
    </main>
  );
}
