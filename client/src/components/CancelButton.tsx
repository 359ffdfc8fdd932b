/**
 * Cancel, end to end (docs/protocol.md: `POST /api/jobs/:id/cancel`): asks for confirmation, then shows
 * "cancelling…" from the moment the cancel is asked for (`cancelRequestedAt`, also when someone
 * else asked) until the runner — or, after the grace, the reaper — ends the job. A refusal says why.
 */
import { useState } from 'react';
import { isTerminal, type Job } from '../../../shared/job.js';
import { cancelJob } from '../api/queries.js';

export function CancelButton({ job, compact = false }: { job: Job; compact?: boolean }) {
  const [confirming, setConfirming] = useState(false);
  const [asked, setAsked] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (isTerminal(job.status)) return null;
  if (job.cancelRequestedAt || asked)
    return (
      <span
        className="cancelling"
        role="status"
        title={job.cancelRequestedBy ? `asked by ${job.cancelRequestedBy}` : undefined}
      >
        cancelling…
      </span>
    );
  const refusal = error && (
    <span className="notice error" role="alert">
      Could not cancel: {error}
    </span>
  );
  if (!confirming)
    return (
      <>
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          {compact ? 'Cancel' : 'Cancel job'}
        </button>
        {refusal}
      </>
    );
  return (
    <span className="confirm" role="group" aria-label={`Cancel ${job.title}?`}>
      {!compact && <span>Stop “{job.title}”? </span>}
      <button
        type="button"
        className="danger"
        onClick={() => {
          setConfirming(false);
          setAsked(true);
          setError(null);
          cancelJob(job.id).catch((e: unknown) => {
            setAsked(false);
            setError(e instanceof Error ? e.message : String(e));
          });
        }}
      >
        Yes, cancel
      </button>{' '}
      <button type="button" onClick={() => setConfirming(false)}>
        Keep running
      </button>
    </span>
  );
}
