/** Small labels: the socket's connection state and a job's status. */
import type { JobStatus } from '../../../shared/job.js';
import type { ConnectionState } from '../../../packages/client/src/index.js';

const CONNECTION_LABELS: Record<ConnectionState, string> = {
  open: 'connected',
  connecting: 'connecting…',
  reconnecting: 'reconnecting…',
  offline: 'offline',
};

export function ConnectionBadge({ state }: { state: ConnectionState }) {
  return (
    <span className={`conn conn-${state}`} data-testid="connection" role="status" aria-live="polite">
      {CONNECTION_LABELS[state]}
    </span>
  );
}

export function StatusBadge({ status }: { status: JobStatus }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}
