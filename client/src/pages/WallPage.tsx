/** The wall: every running job as a tile, for a screen across the room. */
import { useCallback, useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import { jobListQuery } from '../api/queries.js';
import { StatusBadge } from '../components/badges.js';
import { LineText } from '../components/LineText.js';
import { claims, getToken } from '../core/token.js';
import { useJobStream } from '../react/use-job-stream.js';
import { useJobsFeed } from '../react/use-jobs-feed.js';
import { useNow } from '../react/use-now.js';

function WallTile({ job }: { job: Job }) {
  const stream = useJobStream(job.id);
  const last = stream.lines.lines.slice(-6);
  const status = stream.job?.status ?? job.status;
  return (
    <section className={`tile tile-${status}`} data-testid={`tile-${job.id}`}>
      <header>
        <strong>{job.title}</strong> <span>{job.owner}</span> <StatusBadge status={status} />
      </header>
      <pre>
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
 * leave when it ends; failures stay `keepFailedS` (120) in red. All on one screen up to
 * `perPage` (12) tiles; beyond that it pages every `pageS` (10) seconds. Settings in the URL.
 */
export function WallPage() {
  const settings = useMemo(() => {
    const params = new URLSearchParams(window.location.search);
    const number = (name: string, fallback: number) => Math.max(1, Number(params.get(name)) || fallback);
    return {
      keepFailedMs: number('keepFailedS', 120) * 1000,
      perPage: number('perPage', 12),
      pageMs: number('pageS', 10) * 1000,
    };
  }, []);
  const { data } = useQuery(jobListQuery());
  const [seen, setSeen] = useState<Map<string, Job>>(new Map());
  const onJob = useCallback((job: Job) => setSeen((m) => new Map(m).set(job.id, job)), []);
  useJobsFeed(onJob);
  const now = useNow(1000);
  const all = new Map<string, Job>();
  for (const job of data?.jobs ?? []) all.set(job.id, job);
  for (const [id, job] of seen) all.set(id, job);
  const tiles = [...all.values()]
    .filter(
      (j) =>
        j.status === 'running' ||
        (j.status === 'failed' && now - (j.finishedAt ?? 0) < settings.keepFailedMs),
    )
    .sort((a, b) => a.createdAt - b.createdAt);
  const pages = Math.max(1, Math.ceil(tiles.length / settings.perPage));
  const page = Math.floor(now / settings.pageMs) % pages;
  const shown = tiles.slice(page * settings.perPage, (page + 1) * settings.perPage);
  const columns = Math.max(1, Math.ceil(Math.sqrt(shown.length)));
  const user = claims(getToken());
  return (
    <main className="wall">
      {user?.role !== 'admin' && (
        <p className="notice">The wall shows every job to admins; you see your own.</p>
      )}
      {tiles.length === 0 && <p className="idle">Nothing running.</p>}
      {pages > 1 && (
        <p className="wall-page">
          page {page + 1} of {pages} · {tiles.length} jobs
        </p>
      )}
      <div className="wall-grid" style={{ gridTemplateColumns: `repeat(${columns}, 1fr)` }}>
        {shown.map((job) => (
          <WallTile key={job.id} job={job} />
        ))}
      </div>
    </main>
  );
}
