/** The jobs list: live status badges, a status filter, title search, and watch-the-selected. */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { JOB_STATUSES, type JobStatus } from '../../../shared/job.js';
import { jobListQuery } from '../api/queries.js';
import { Link, navigate } from '../app/navigation.js';
import { StatusBadge } from '../components/badges.js';
import { duration } from '../components/format.js';
import { useJobsFeed } from '../react/use-jobs-feed.js';
import { useNow } from '../react/use-now.js';

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
