/**
 * Applying a `job` frame from the feed to the react-query cache: the job's detail, and every
 * cached list (its pages) — updated where it is, added to the top of the first page where the
 * list's filter and search keep it, removed where they no longer do. Lists stay current without
 * refetching.
 */
import type { InfiniteData, QueryClient } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import type { JobListPage } from '../../../shared/http-api.js';
import { JOB_LISTS_KEY, jobKey } from './queries.js';

export { JOB_LISTS_KEY };

/** Whether a list with this key (status filter, search) shows `job`, as the API would decide. */
function listShows(key: readonly unknown[], job: Job): boolean {
  const [, status, q] = key;
  if (status !== 'all' && status !== job.status) return false;
  const needle = typeof q === 'string' ? q.toLowerCase() : '';
  return !needle || [job.title, job.owner, job.branch ?? ''].some((t) => t.toLowerCase().includes(needle));
}

export function applyJobToCache(queryClient: QueryClient, job: Job): void {
  queryClient.setQueryData(jobKey(job.id), job);
  for (const [key, list] of queryClient.getQueriesData<InfiniteData<JobListPage, string>>({
    queryKey: JOB_LISTS_KEY,
  })) {
    if (!list) {
      // A list that failed to load (or is loading) would miss this job: fetch it again instead.
      void queryClient.invalidateQueries({ queryKey: key });
      continue;
    }
    const keep = listShows(key, job);
    // Updated in place on whichever page holds it; a new job goes to the top of the first page.
    let found = false;
    const pages = list.pages.map((page) => {
      if (!page.jobs.some((j) => j.id === job.id)) return page;
      found = true;
      return {
        ...page,
        jobs: keep
          ? page.jobs.map((j) => (j.id === job.id ? job : j))
          : page.jobs.filter((j) => j.id !== job.id),
      };
    });
    if (!found && keep && pages[0])
      pages[0] = { ...pages[0], jobs: [job, ...pages[0].jobs].sort((a, b) => b.createdAt - a.createdAt) };
    queryClient.setQueryData<InfiniteData<JobListPage, string>>(key, { ...list, pages });
  }
}
