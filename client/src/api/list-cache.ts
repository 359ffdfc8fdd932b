/**
 * Applying a `job` frame from the feed to the react-query cache: the job's detail, and every
 * cached list — added or moved to its place (newest first) where the list's status filter keeps
 * it, removed where it no longer does. Lists stay current without refetching.
 */
import type { QueryClient } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import { JOB_LISTS_KEY, jobKey, type JobList } from './queries.js';

export { JOB_LISTS_KEY };

export function applyJobToCache(queryClient: QueryClient, job: Job): void {
  queryClient.setQueryData(jobKey(job.id), job);
  for (const [key, list] of queryClient.getQueriesData<JobList>({ queryKey: JOB_LISTS_KEY })) {
    if (!list) {
      // A list that failed to load (or is loading) would miss this job: fetch it again instead.
      void queryClient.invalidateQueries({ queryKey: key });
      continue;
    }
    const filter = key[1];
    const others = list.jobs.filter((j) => j.id !== job.id);
    const keep = filter === 'all' || filter === job.status;
    const jobs = keep ? [job, ...others].sort((a, b) => b.createdAt - a.createdAt) : others;
    queryClient.setQueryData<JobList>(key, { ...list, jobs });
  }
}
