/** The dashboard's pages: jobs, one job, the watch grid, the wall, sign-in. */
import { useCallback, useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { JOB_STATUSES, type Job, type JobStatus } from '../../../shared/job.js';
import { devAuthQuery, devToken, jobListQuery, jobQuery } from '../api.js';
import { claims, getToken, setToken } from '../auth.js';
import { LineText, OutputViewer, StatusBadge } from '../components/OutputViewer.js';
import { useJobsFeed, useJobStream, useNow } from '../hooks.js';

export function navigate(path: string): void {
  history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

const Link = ({ to, children, className }: { to: string; children: React.ReactNode; className?: string }) => (
  <a
    href={to}
    className={className}
    onClick={(e) => {
      if (e.metaKey || e.ctrlKey) return;
      e.preventDefault();
      navigate(to);
    }}
  >
    {children}
  </a>
);

function duration(job: Pick<Job, 'startedAt' | 'finishedAt'>, now: number): string {
  if (!job.startedAt) return '–';
  const s = Math.max(0, Math.round(((job.finishedAt ?? now) - job.startedAt) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}

export function JobsPage() {
  const [status, setStatus] = useState<JobStatus | undefined>();
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const { data, error, isPending } = useQuery(jobListQuery(status));
  useJobsFeed();
  const now = useNow();
  const jobs = (data?.jobs ?? []).filter((j) => j.title.toLowerCase().includes(search.toLowerCase()));
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <main>
      <div className="bar">
        <h1>Jobs</h1>
        <select
          aria-label="Filter by status"
          value={status ?? ''}
          onChange={(e) => setStatus((e.target.value || undefined) as JobStatus | undefined)}
        >
          <option value="">all</option>
          {JOB_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <input placeholder="Search titles" value={search} onChange={(e) => setSearch(e.target.value)} />
        <button
          disabled={selected.size === 0}
          onClick={() => navigate(`/watch?jobs=${[...selected].join(',')}`)}
        >
          Watch {selected.size || ''} selected
        </button>
      </div>
      {isPending && <p>Loading…</p>}
      {error && <p className="notice error">{error.message}</p>}
      <table className="jobs">
        <tbody>
          {jobs.map((job) => (
            <tr key={job.id} data-testid={`job-row-${job.id}`}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`select ${job.title}`}
                  checked={selected.has(job.id)}
                  onChange={() => toggle(job.id)}
                />
              </td>
              <td>
                <StatusBadge status={job.status} />
              </td>
              <td>
                <Link to={`/jobs/${job.id}`}>{job.title}</Link>
              </td>
              <td>{job.owner}</td>
              <td>{duration(job, now)}</td>
              <td>{new Date(job.createdAt).toLocaleTimeString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && jobs.length === 0 && <p>No jobs yet.</p>}
    </main>
  );
}

export function JobPage({ jobId }: { jobId: string }) {
  const cached = useQuery(jobQuery(jobId));
  const stream = useJobStream(jobId);
  const job = stream.job ?? cached.data;
  const now = useNow();
  return (
    <main className="job-page">
      <div className="bar">
        <h1>{job?.title ?? jobId}</h1>
        {job && <StatusBadge status={job.status} />}
      </div>
      {job && (
        <dl className="meta">
          <dt>Owner</dt>
          <dd>{job.owner}</dd>
          <dt>Started</dt>
          <dd>{job.startedAt ? new Date(job.startedAt).toLocaleString() : '–'}</dd>
          <dt>Finished</dt>
          <dd>{job.finishedAt ? new Date(job.finishedAt).toLocaleString() : '–'}</dd>
          <dt>Duration</dt>
          <dd>{duration(job, now)}</dd>
          {job.branch && (
            <>
              <dt>Branch</dt>
              <dd>{job.branch}</dd>
            </>
          )}
          {(job.linesAdded !== undefined || job.linesRemoved !== undefined) && (
            <>
              <dt>Changes</dt>
              <dd>
                <span className="added">+{job.linesAdded ?? 0}</span>{' '}
                <span className="removed">−{job.linesRemoved ?? 0}</span>
              </dd>
            </>
          )}
        </dl>
      )}
      {job?.status === 'success' && job.mrUrl && (
        <a className="button mr" href={job.mrUrl} target="_blank" rel="noreferrer">
          Open merge request
        </a>
      )}
      {job?.status === 'failed' && (
        <div className="notice error" role="alert">
          Failed{job.exitCode !== undefined ? ` with exit code ${job.exitCode}` : ''}
          {job.errorMessage ? `: ${job.errorMessage}` : ''}
        </div>
      )}
      <OutputViewer jobId={jobId} stream={stream} />
    </main>
  );
}

function WatchPane({ jobId, onRemove }: { jobId: string; onRemove: () => void }) {
  const stream = useJobStream(jobId);
  return (
    <section className="pane" data-testid={`pane-${jobId}`}>
      <header>
        <Link to={`/jobs/${jobId}`}>{stream.job?.title ?? jobId}</Link>
        {stream.job && <StatusBadge status={stream.job.status} />}
        <button aria-label={`Stop watching ${jobId}`} onClick={onRemove}>
          ×
        </button>
      </header>
      <OutputViewer jobId={jobId} stream={stream} compact />
    </section>
  );
}

export function WatchPage() {
  const ids = useMemo(
    () => (new URLSearchParams(window.location.search).get('jobs') ?? '').split(',').filter(Boolean),
    [],
  );
  const [jobs, setJobs] = useState(ids);
  const [adding, setAdding] = useState('');
  const update = (next: string[]) => {
    setJobs(next);
    history.replaceState(null, '', `/watch?jobs=${next.join(',')}`);
  };
  return (
    <main className="watch">
      <div className="bar">
        <h1>Watching {jobs.length} jobs</h1>
        <input placeholder="Add a job id" value={adding} onChange={(e) => setAdding(e.target.value.trim())} />
        <button
          disabled={!adding || jobs.includes(adding)}
          onClick={() => (update([...jobs, adding]), setAdding(''))}
        >
          Add
        </button>
      </div>
      <div className="grid" style={{ gridTemplateColumns: `repeat(${Math.min(jobs.length, 3) || 1}, 1fr)` }}>
        {jobs.map((id) => (
          <WatchPane key={id} jobId={id} onRemove={() => update(jobs.filter((j) => j !== id))} />
        ))}
      </div>
    </main>
  );
}

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

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [pasted, setPasted] = useState('');
  const dev = useQuery(devAuthQuery());
  const expired = claims(getToken());
  return (
    <main className="signin">
      <h1>Sign in to jobstream</h1>
      {expired && expired.exp * 1000 < Date.now() && (
        <p className="notice">Your token expired. Sign in again; your place is kept.</p>
      )}
      <label>
        Paste a token <textarea value={pasted} onChange={(e) => setPasted(e.target.value.trim())} rows={4} />
      </label>
      <button
        disabled={!claims(pasted)}
        onClick={() => {
          setToken(pasted);
          onSignedIn();
        }}
      >
        Sign in
      </button>
      {dev.data && (
        <div className="dev">
          <h2>Dev sign-in</h2>
          {dev.data.users.map((u) => (
            <button
              key={u.sub}
              onClick={() => void devToken(u.sub, u.role).then((t) => (setToken(t), onSignedIn()))}
            >
              {u.sub} ({u.role})
            </button>
          ))}
        </div>
      )}
    </main>
  );
}
