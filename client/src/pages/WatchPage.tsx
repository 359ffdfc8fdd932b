/** Several jobs side by side over the one socket; the list lives in the address (`?jobs=a,b`). */
import { useMemo, useState } from 'react';
import { useQueries, useQuery } from '@tanstack/react-query';
import { fetchJobPage, jobQuery } from '../api/queries.js';
import { Link } from '../app/navigation.js';
import { NotifyToggle } from '../components/NotifyToggle.js';
import { useJobAlerts } from '../react/use-job-alerts.js';
import { useNow } from '../react/use-now.js';
import { duration } from '../components/format.js';
import { StatusBadge } from '../components/badges.js';
import { CancelButton } from '../components/CancelButton.js';
import { OutputViewer } from '../components/OutputViewer.js';
import { useJobStream } from '../react/use-job-stream.js';

function WatchPane({ jobId, onRemove }: { jobId: string; onRemove: () => void }) {
  const stream = useJobStream(jobId);
  const now = useNow();
  return (
    <section className="pane" data-testid={`pane-${jobId}`}>
      <header>
        <Link to={`/jobs/${jobId}`}>{stream.job?.title ?? jobId}</Link>
        {stream.job && <StatusBadge status={stream.job.status} />}
        {stream.job && <span className="muted">{duration(stream.job, now)}</span>}
        {stream.job && <CancelButton job={stream.job} compact />}
        <button aria-label={`Stop watching ${jobId}`} onClick={onRemove}>
          ×
        </button>
      </header>
      <OutputViewer jobId={jobId} stream={stream} compact />
    </section>
  );
}

/**
 * Columns for `n` panes: a near-square grid (2 → 2×1, 4 → 2×2, 9 → 3×3), at most 4 across so a
 * pane keeps readable lines; rows share the screen's height (styles/watch-wall.css `.watch-grid`).
 */
function gridColumns(n: number): number {
  return Math.max(1, Math.min(4, Math.ceil(Math.sqrt(n))));
}

/** Every running job the caller may see (their own; an admin's, everyone's), up to 200. */
async function runningJobIds(): Promise<string[]> {
  const ids: string[] = [];
  let before = '';
  while (ids.length < 200) {
    const page = await fetchJobPage({ status: 'running', before });
    ids.push(...page.jobs.map((j) => j.id));
    if (!page.next) break;
    before = page.next;
  }
  return ids;
}

/** Find a job by title, owner or branch (the server searches) and add it. */
function JobPicker({
  query,
  onQuery,
  exclude,
  onPick,
}: {
  query: string;
  onQuery: (q: string) => void;
  exclude: readonly string[];
  onPick: (id: string) => void;
}) {
  const q = query.trim();
  const { data } = useQuery({
    queryKey: ['picker', q],
    queryFn: () => fetchJobPage({ q, limit: 8 }),
    enabled: q.length > 0,
  });
  const options = (data?.jobs ?? []).filter((j) => !exclude.includes(j.id));
  return (
    <span className="picker">
      <input
        type="search"
        aria-label="Add a job: search by title, owner or branch"
        placeholder="Add a job…"
        value={query}
        onChange={(e) => onQuery(e.target.value)}
        onKeyDown={(e) => e.key === 'Enter' && options[0] && onPick(options[0].id)}
      />
      {q && options.length > 0 && (
        <ul className="picker-options" role="listbox" aria-label="Matching jobs">
          {options.map((job) => (
            <li key={job.id} role="option" aria-selected={false}>
              <button type="button" onClick={() => onPick(job.id)}>
                <StatusBadge status={job.status} /> {job.title} <span className="muted">· {job.owner}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </span>
  );
}

export function WatchPage() {
  const ids = useMemo(
    () => (new URLSearchParams(window.location.search).get('jobs') ?? '').split(',').filter(Boolean),
    [],
  );
  const [jobs, setJobs] = useState(ids);
  const [adding, setAdding] = useState('');
  const watched = useQueries({ queries: jobs.map((id) => jobQuery(id)) });
  const alerts = useJobAlerts(watched.map((q) => q.data));
  const update = (next: string[]) => {
    setJobs(next);
    history.replaceState(null, '', `/watch?jobs=${next.join(',')}`);
  };
  return (
    <main className="watch">
      <div className="bar">
        <h1>Watching {jobs.length} jobs</h1>
        <NotifyToggle alerts={alerts} />
        <JobPicker
          query={adding}
          onQuery={setAdding}
          exclude={jobs}
          onPick={(id) => (update([...jobs, id]), setAdding(''))}
        />
        <button
          type="button"
          onClick={() =>
            void runningJobIds().then((running) =>
              update([...jobs, ...running.filter((id) => !jobs.includes(id))]),
            )
          }
        >
          Watch all running jobs
        </button>
      </div>
      <div
        className="grid watch-grid"
        style={{ gridTemplateColumns: `repeat(${gridColumns(jobs.length)}, minmax(0, 1fr))` }}
      >
        {jobs.map((id) => (
          <WatchPane key={id} jobId={id} onRemove={() => update(jobs.filter((j) => j !== id))} />
        ))}
      </div>
    </main>
  );
}
