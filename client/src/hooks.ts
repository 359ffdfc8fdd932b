/**
 * Thin React hooks over the framework-free JobSocket, through useSyncExternalStore. Socket
 * events also update the react-query cache, so lists and details stay current without refetching.
 */
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { Job } from '../../shared/job.js';
import type { JobList } from './api.js';
import type { ConnectionState, JobSocket, JobView } from './socket/job-socket.js';
import type { LineStoreSnapshot } from './socket/line-store.js';

export const SocketContext = createContext<JobSocket | null>(null);

export function useJobSocket(): JobSocket {
  const socket = useContext(SocketContext);
  if (!socket) throw new Error('useJobSocket needs a <SocketContext.Provider value={jobSocket}> above it');
  return socket;
}

export function useConnectionState(): ConnectionState {
  const socket = useJobSocket();
  return useSyncExternalStore(socket.onStateChange, socket.getState);
}

const EMPTY_VIEW: JobView = { job: null, done: null, error: null };
const EMPTY_LINES: LineStoreSnapshot = { lines: [], lastSeq: 0, dropped: 0, gaps: [], version: 0 };
const noop = (): (() => void) => () => undefined;

export interface JobStream extends JobView {
  lines: LineStoreSnapshot;
  connection: ConnectionState;
}

/** Status, metadata, lines, connection, done and error of one job, live. */
export function useJobStream(jobId: string): JobStream {
  const socket = useJobSocket();
  const queryClient = useQueryClient();
  const [, setHeld] = useState(0);
  useEffect(() => {
    const release = socket.hold(jobId);
    setHeld((n) => n + 1); // re-render so the stores below are the held ones
    return release;
  }, [socket, jobId]);
  const store = socket.store(jobId);
  const view = useSyncExternalStore(
    store ? (listener) => socket.onJobChange(jobId, listener) : noop,
    () => socket.view(jobId) ?? EMPTY_VIEW,
  );
  const lines = useSyncExternalStore(
    store ? store.subscribe : noop,
    store ? store.getSnapshot : () => EMPTY_LINES,
  );
  const connection = useConnectionState();
  useEffect(() => {
    if (view.job) queryClient.setQueryData(['job', jobId], view.job);
  }, [queryClient, jobId, view.job]);
  return { ...view, lines, connection };
}

/**
 * Applies `job` frames to every cached job list and detail. Once the watch is in effect (and
 * after each reconnect) the lists are refetched, so a change that raced the first fetch, or
 * happened while offline, is not lost.
 */
export function useJobsFeed(onJob?: (job: Job) => void): void {
  const socket = useJobSocket();
  const queryClient = useQueryClient();
  useEffect(
    () => socket.onFeedReady(() => void queryClient.invalidateQueries({ queryKey: ['jobs'] })),
    [socket, queryClient],
  );
  useEffect(
    () =>
      socket.watchJobs((job) => {
        queryClient.setQueryData(['job', job.id], job);
        for (const [key, list] of queryClient.getQueriesData<JobList>({ queryKey: ['jobs'] })) {
          if (!list) continue;
          const filter = key[1];
          const others = list.jobs.filter((j) => j.id !== job.id);
          const keep = filter === 'all' || filter === job.status;
          const jobs = keep ? [job, ...others].sort((a, b) => b.createdAt - a.createdAt) : others;
          queryClient.setQueryData<JobList>(key, { ...list, jobs });
        }
        onJob?.(job);
      }),
    [socket, queryClient, onJob],
  );
}

/** Re-renders every `ms`, for ticking durations. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
