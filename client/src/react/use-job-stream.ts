import { useCallback, useEffect, useSyncExternalStore } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { JobView, ConnectionState, LineStoreSnapshot } from '../../../packages/client/src/index.js';
import { jobKey } from '../api/queries.js';
import { useJobSocket } from './socket-context.js';
import { useConnectionState } from './use-connection-state.js';

const EMPTY_VIEW: JobView = { job: null, done: null, error: null };
const EMPTY_LINES: LineStoreSnapshot = {
  lines: [],
  lastSeq: 0,
  dropped: 0,
  gaps: [],
  pending: null,
  version: 0,
};

export interface JobStream extends JobView {
  lines: LineStoreSnapshot;
  connection: ConnectionState;
}

/**
 * Status, metadata, lines, connection, done and error of one job, live. Subscribing holds the job
 * on the socket (ref-counted: one server subscription however many views), so the subscribe
 * function is stable for a job and the snapshots are the socket's own objects.
 */
export function useJobStream(jobId: string, { tail }: { tail?: number } = {}): JobStream {
  const socket = useJobSocket();
  const queryClient = useQueryClient();
  const subscribe = useCallback(
    (onChange: () => void) => {
      const release = socket.hold(jobId, tail === undefined ? {} : { tail });
      const stopView = socket.onJobChange(jobId, onChange);
      const stopLines = socket.store(jobId)?.subscribe(onChange);
      return () => {
        stopView();
        stopLines?.();
        release();
      };
    },
    [socket, jobId, tail],
  );
  const view = useSyncExternalStore(subscribe, () => socket.view(jobId) ?? EMPTY_VIEW);
  const lines = useSyncExternalStore(subscribe, () => socket.store(jobId)?.getSnapshot() ?? EMPTY_LINES);
  const connection = useConnectionState();
  useEffect(() => {
    if (view.job) queryClient.setQueryData(jobKey(jobId), view.job);
  }, [queryClient, jobId, view.job]);
  return { ...view, lines, connection };
}
