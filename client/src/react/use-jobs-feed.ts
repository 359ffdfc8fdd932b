import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import { applyJobToCache, JOB_LISTS_KEY } from '../api/list-cache.js';
import { useJobSocket } from './socket-context.js';

/**
 * Applies `job` frames to every cached job list and detail. Once the watch is in effect
 * (`watching`, and after each reconnect), and after a feed gap, the lists are fetched again, so a
 * change that raced the first fetch, or happened while offline, is not lost.
 */
export function useJobsFeed(onJob?: (job: Job) => void): void {
  const socket = useJobSocket();
  const queryClient = useQueryClient();
  useEffect(
    () => socket.onFeedReady(() => void queryClient.invalidateQueries({ queryKey: JOB_LISTS_KEY })),
    [socket, queryClient],
  );
  useEffect(
    () =>
      socket.watchJobs((job) => {
        applyJobToCache(queryClient, job);
        onJob?.(job);
      }),
    [socket, queryClient, onJob],
  );
}
