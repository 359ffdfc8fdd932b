/**
 * The jobs list: live status, a status filter and a search (title, owner, branch) answered by
 * the server, and a sort, all in the address so a view can be shared; "load more" with the API's
 * cursor; watch-the-selected. The API lists newest first only, so any other sort first loads
 * every matching job (up to SORT_ALL_LIMIT) and sorts them all, never just the rows on screen.
 */
import { useEffect, useMemo, useState } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import { isJobStatus, JOB_STATUSES, type Job, type JobStatus } from '../../../shared/job.js';
import { jobListQuery } from '../api/queries.js';
import { Link, navigate } from '../app/navigation.js';
import { StatusBadge } from '../components/badges.js';
import { ago, count, dateTime, duration } from '../components/format.js';
import { useJobsFeed } from '../react/use-jobs-feed.js';
import { useNow } from '../react/use-now.js';

type SortKey = 'status' | 'title' | 'owner' | 'branch' | 'created' | 'duration' | 'exit';
const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'status', label: 'Status' },
  { key: 'title', label: 'Title' },
  { key: 'owner', label: 'Owner' },
  { key: 'branch', label: 'Branch' },
  { key: 'created', label: 'Started' },
  { key: 'duration', label: 'Duration' },
  { key: 'exit', label: 'Exit' },
];

/** The most jobs loaded to sort a list by another column than its start (100 pages). */
export const SORT_ALL_LIMIT = 5000;

const isSortKey = (value: string): value is SortKey => COLUMNS.some((c) => c.key === value);
const DEFAULT_SORT = { key: 'created', descending: true } as const;

function sortValue(job: Job, key: SortKey, now: number): string | number {
  switch (key) {
    case 'status':
      return JOB_STATUSES.indexOf(job.status);
    case 'title':
      return job.title.toLowerCase();
    case 'owner':
      return job.owner;
    case 'branch':
      return job.branch ?? '';
    case 'created':
      return job.createdAt;
    case 'duration':
      return job.startedAt ? (job.finishedAt ?? now) - job.startedAt : -1;
    case 'exit':
      return job.exitCode ?? -1;
  }
}

/** Filters and sort as the address holds them: `/?status=running&q=deploy&sort=-duration`. */
function filtersFromAddress(): {
  status: JobStatus | undefined;
  q: string;
  sort: { key: SortKey; descending: boolean };
} {
  const params = new URLSearchParams(window.location.search);
  const status = params.get('status') ?? '';
  const sort = params.get('sort') ?? '';
  const key = sort.replace(/^-/, '');
  return {
    status: isJobStatus(status) ? status : undefined,
    q: params.get('q') ?? '',
    sort: isSortKey(key) ? { key, descending: sort.startsWith('-') } : DEFAULT_SORT,
  };
}

export function JobsPage() {
  const initial = useMemo(filtersFromAddress, []);
  const [status, setStatus] = useState<JobStatus | undefined>(initial.status);
  const [search, setSearch] = useState(initial.q);
  const [q, setQ] = useState(initial.q.trim());
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>(initial.sort);
  const sortsAll = sort.key !== DEFAULT_SORT.key || sort.descending !== DEFAULT_SORT.descending;
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // The server searches; ask once typing pauses, not on every key.
  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  useEffect(() => {
    const params = new URLSearchParams();
    if (status) params.set('status', status);
    if (q) params.set('q', q);
    if (sortsAll) params.set('sort', `${sort.descending ? '-' : ''}${sort.key}`);
    const query = params.toString();
    history.replaceState(
      null,
      '',
      `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`,
    );
  }, [status, q, sortsAll, sort]);
  const { data, error, isPending, isFetching, hasNextPage, isFetchingNextPage, fetchNextPage } =
    useInfiniteQuery(jobListQuery({ status, q: q || undefined }));
  useJobsFeed();
  const now = useNow();
  const loaded = data?.pages.flatMap((page) => page.jobs) ?? [];
  // Sorted by another column than the API's order: every matching job is loaded, then sorted.
  const loadingAll = sortsAll && hasNextPage && loaded.length < SORT_ALL_LIMIT;
  useEffect(() => {
    // One page at a time, and never over a refetch (the feed asks for one when it is ready): a
    // fetchNextPage that cancelled it would be cancelled in turn.
    if (loadingAll && !isFetching && !error) void fetchNextPage({ cancelRefetch: false });
  }, [loadingAll, isFetching, error, fetchNextPage, loaded.length]);
  const jobs = [...loaded].sort((a, b) => {
    const [x, y] = [sortValue(a, sort.key, now), sortValue(b, sort.key, now)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    return sort.descending ? -order : order;
  });
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const sortBy = (key: SortKey) =>
    setSort((s) => ({ key, descending: s.key === key ? !s.descending : key === 'created' }));
  return (
    <main>
      <div className="bar">
        <h1>Jobs</h1>
        <label className="visually-hidden" htmlFor="status-filter">
          Filter by status
        </label>
        <select
          id="status-filter"
          aria-label="Filter by status"
          value={status ?? ''}
          onChange={(e) => setStatus(isJobStatus(e.target.value) ? e.target.value : undefined)}
        >
          <option value="">all</option>
          {JOB_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <input
          type="search"
          aria-label="Search jobs by title, owner or branch"
          placeholder="Search title, owner, branch"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <button
          disabled={selected.size === 0}
          onClick={() => navigate(`/watch?jobs=${[...selected].join(',')}`)}
        >
          Watch {selected.size || ''} selected
        </button>
      </div>
      {isPending && <p>Loading…</p>}
      {loadingAll && (
        <p className="notice" role="status">
          Loading every job to sort them all… ({count(loaded.length)} so far)
        </p>
      )}
      {sortsAll && hasNextPage && !loadingAll && (
        <p className="notice" role="status">
          Sorted the newest {count(loaded.length)} jobs only: search or filter to sort the rest.
        </p>
      )}
      {error && <p className="notice error">{error.message}</p>}
      <table className="jobs">
        <thead>
          <tr>
            <th scope="col">
              <span className="visually-hidden">Select</span>
            </th>
            {COLUMNS.map((column) => (
              <th
                scope="col"
                key={column.key}
                aria-sort={sort.key === column.key ? (sort.descending ? 'descending' : 'ascending') : 'none'}
              >
                <button type="button" className="sort" onClick={() => sortBy(column.key)}>
                  {column.label}
                  {sort.key === column.key ? (sort.descending ? ' ▼' : ' ▲') : ''}
                </button>
              </th>
            ))}
          </tr>
        </thead>
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
              <td data-label="Status">
                <StatusBadge status={job.status} />
              </td>
              <td data-label="Title">
                <Link to={`/jobs/${job.id}`}>{job.title}</Link>
              </td>
              <td data-label="Owner">{job.owner}</td>
              <td data-label="Branch">{job.branch ?? ''}</td>
              <td data-label="Started">
                <time
                  dateTime={new Date(job.createdAt).toISOString()}
                  title={new Date(job.createdAt).toString()}
                >
                  <span className="absolute">{dateTime(job.createdAt)}</span>
                  <span className="muted"> · {ago(job.createdAt, now)}</span>
                </time>
              </td>
              <td data-label="Duration">{job.startedAt ? duration(job, now) : ''}</td>
              <td data-label="Exit">{job.exitCode ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && loaded.length === 0 && (
        <p>
          {q || status
            ? `No jobs match${q ? ` “${q}”` : ''}${status ? ` with status ${status}` : ''}.`
            : 'No jobs yet.'}
        </p>
      )}
      {hasNextPage && !sortsAll && (
        <button type="button" disabled={isFetchingNextPage} onClick={() => void fetchNextPage()}>
          {isFetchingNextPage ? 'Loading…' : `Load more (${loaded.length} shown)`}
        </button>
      )}
    </main>
  );
}
