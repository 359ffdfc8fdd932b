/** HTTP API calls and react-query option factories and keys (one place that knows the URLs). */
import { queryOptions } from '@tanstack/react-query';
import type { Job, JobStatus } from '../../../shared/job.js';
import type { ErrorCode, Role } from '../../../shared/protocol.js';
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

export interface JobList {
  jobs: Job[];
  next: string | null;
}

/** Every cached job list starts with this key; the second part is the status filter or 'all'. */
export const JOB_LISTS_KEY = ['jobs'] as const;
const jobListKey = (status?: JobStatus) => [...JOB_LISTS_KEY, status ?? 'all'] as const;
export const jobKey = (id: string) => ['job', id] as const;

export const jobListQuery = (status?: JobStatus) =>
  queryOptions({
    queryKey: jobListKey(status),
    queryFn: () => api<JobList>(`/api/jobs?limit=200${status ? `&status=${status}` : ''}`),
  });

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
export async function downloadOutput(id: string): Promise<void> {
  const { url } = await api<{ url: string }>(`/api/jobs/${encodeURIComponent(id)}/download-token`, 'POST');
  const link = document.createElement('a');
  link.href = url;
  link.download = `${id}.txt`;
  document.body.append(link);
  link.click();
  link.remove();
}
