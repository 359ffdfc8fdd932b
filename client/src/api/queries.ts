/** HTTP API calls and react-query option factories and keys (one place that knows the URLs). */
import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import type { Job, JobStatus } from '../../../shared/job.js';
import type { ErrorCode, Role } from '../../../shared/protocol.js';
import type { AnnotationsPage, JobListPage, OutputPage, SearchResult } from '../../../shared/http-api.js';
import { getToken } from '../core/token.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The API's error code; null when the answer was not one of ours (a proxy's page, say). */
    readonly code: ErrorCode | null,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  const res = await fetch(path, { method, headers: { authorization: `Bearer ${getToken() ?? ''}` } });
  const body = (await res.json().catch(() => null)) as {
    error?: { code: ErrorCode; message: string };
  } | null;
  if (!res.ok)
    throw new ApiError(res.status, body?.error?.code ?? null, body?.error?.message ?? res.statusText);
  return body as T;
}

/** Every cached job list starts with this key; then the status filter (or 'all') and the search. */
export const JOB_LISTS_KEY = ['jobs'] as const;
export interface JobListFilter {
  status?: JobStatus | undefined;
  q?: string | undefined;
}
export const jobListKey = ({ status, q }: JobListFilter) =>
  [...JOB_LISTS_KEY, status ?? 'all', q ?? ''] as const;
export const jobKey = (id: string) => ['job', id] as const;

/**
 * A job's annotations, read again whenever its counts change (the job object carries them, so a
 * live job's summary follows its log without polling).
 */
export const annotationsQuery = (jobId: string, total: number) =>
  queryOptions({
    queryKey: ['annotations', jobId, total] as const,
    queryFn: () => api<AnnotationsPage>(`/api/jobs/${encodeURIComponent(jobId)}/annotations`),
    enabled: total > 0,
    placeholderData: (previous) => previous,
  });

/** One page of `GET /api/jobs`. */
export function fetchJobPage({
  status,
  q,
  before,
  limit = 50,
}: JobListFilter & { before?: string; limit?: number }): Promise<JobListPage> {
  const params = new URLSearchParams({ limit: String(limit) });
  if (status) params.set('status', status);
  if (q) params.set('q', q);
  if (before) params.set('before', before);
  return api<JobListPage>(`/api/jobs?${params}`);
}

/** Pages of 50, newest first, searched on the server; `next` is the API's cursor. */
export const jobListQuery = (filter: JobListFilter) =>
  infiniteQueryOptions({
    queryKey: jobListKey(filter),
    queryFn: ({ pageParam }) => fetchJobPage({ ...filter, before: pageParam }),
    initialPageParam: '',
    getNextPageParam: (last) => last.next ?? undefined,
  });

/** Retained lines just before seq `before`, oldest first (paging back into a long log). */
export const outputBefore = (id: string, before: number, limit: number): Promise<OutputPage> =>
  api<OutputPage>(`/api/jobs/${encodeURIComponent(id)}/output?before=${before}&limit=${limit}`);

/** Retained lines after seq `since`. */
export const outputSince = (id: string, since: number, limit: number): Promise<OutputPage> =>
  api<OutputPage>(`/api/jobs/${encodeURIComponent(id)}/output?since=${since}&limit=${limit}`);

/** Every retained line of the job whose text (ANSI removed) contains `q`, case-insensitive. */
export const searchOutput = (id: string, q: string): Promise<SearchResult> =>
  api<SearchResult>(`/api/jobs/${encodeURIComponent(id)}/search?q=${encodeURIComponent(q)}&limit=10000`);

/**
 * A search of a job's log, cached per text (going back to an earlier search is instant). Not
 * retried: a refused search (429, too many running) says so rather than adding to the load.
 */
export const searchQuery = (id: string, q: string) =>
  queryOptions({
    queryKey: ['search', id, q] as const,
    queryFn: () => searchOutput(id, q),
    enabled: q !== '',
    retry: false,
    staleTime: 5_000,
  });

/** Asks the job's runner to stop (the job stays as it is until the runner, or the reaper, ends it). */
export const cancelJob = (id: string): Promise<Job> =>
  api<Job>(`/api/jobs/${encodeURIComponent(id)}/cancel`, 'POST');

export const jobQuery = (id: string) =>
  queryOptions({ queryKey: jobKey(id), queryFn: () => api<Job>(`/api/jobs/${encodeURIComponent(id)}`) });

export const devAuthQuery = () =>
  queryOptions({
    queryKey: ['dev'],
    queryFn: () =>
      fetch('/api/dev').then((r) =>
        r.ok ? (r.json() as Promise<{ users: { sub: string; role: Role }[] }>) : null,
      ),
    retry: false,
  });

export async function devToken(sub: string, role: Role): Promise<string> {
  const res = await fetch(`/api/dev/token?sub=${encodeURIComponent(sub)}&role=${role}`);
  if (!res.ok) throw new ApiError(res.status, 'unauthorized', 'dev sign-in is off');
  return ((await res.json()) as { token: string }).token;
}

/**
 * Downloads a job's output as text. A link cannot carry the Authorization header, and the
 * sign-in token never goes into a URL: the page asks for a 60 s download token for this one job
 * and follows the link it is given.
 */
/** The whole log as plain text in a new tab (GitHub's "View raw logs"), through a download token. */
export async function viewRawOutput(id: string): Promise<void> {
  // Opened before the token arrives, so a popup blocker sees the click that asked for it.
  const tab = window.open('', '_blank');
  const { url } = await api<{ url: string }>(`/api/jobs/${encodeURIComponent(id)}/download-token`, 'POST');
  if (tab) tab.location.href = `${url}&view=raw`;
}

export async function downloadOutput(id: string): Promise<void> {
  const { url } = await api<{ url: string }>(`/api/jobs/${encodeURIComponent(id)}/download-token`, 'POST');
  const link = document.createElement('a');
  link.href = url;
  link.download = `${id}.txt`;
  document.body.append(link);
  link.click();
  link.remove();
}
