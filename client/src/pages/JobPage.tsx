/** One job: its metadata, merge request, failure, and the whole output live. */
import { useQuery } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import type { ViewLine } from '../../../packages/client/src/index.js';
import { annotationsQuery, jobQuery } from '../api/queries.js';
import { AnnotationsPanel } from '../components/AnnotationsPanel.js';
import { StatusBadge } from '../components/badges.js';
import { CancelButton } from '../components/CancelButton.js';
import { NotifyToggle } from '../components/NotifyToggle.js';
import { useJobAlerts } from '../react/use-job-alerts.js';
import { count, dateTime, duration } from '../components/format.js';
import { OutputViewer } from '../components/OutputViewer.js';
import { useJobStream } from '../react/use-job-stream.js';
import { useNow } from '../react/use-now.js';
import { SeeAllJobs } from './NotFoundPage.js';

/**
 * Failures first: what went wrong, the exit code, the last stderr lines, and a jump to the first
 * `::error::` line of the whole job (the server keeps it), else to the first stderr line held.
 */
function FailureSummary({ job, lines }: { job: Job; lines: readonly ViewLine[] }) {
  const total = job.annotationCounts
    ? job.annotationCounts.error + job.annotationCounts.warning + job.annotationCounts.notice
    : 0;
  const annotations = useQuery(annotationsQuery(job.id, total));
  const firstErrorSeq =
    annotations.data?.firstErrorSeq ??
    lines.find((l) => l.stream === 'stderr' || l.line.startsWith('::error'))?.seq;
  const lastStderr = lines.filter((l) => l.stream === 'stderr').slice(-5);
  // "Failed with exit code 1: exit code 1" said the same thing twice.
  const message =
    job.errorMessage && job.errorMessage !== `exit code ${job.exitCode}` ? job.errorMessage : null;
  return (
    <div className="notice error failure" role="alert">
      <strong>
        Failed{job.exitCode !== undefined ? ` with exit code ${job.exitCode}` : ''}
        {message ? `: ${message}` : ''}
      </strong>
      {lastStderr.length > 0 && (
        <pre className="failure-tail">{lastStderr.map((l) => l.line.replace(ANSI_CODES, '')).join('\n')}</pre>
      )}
      {firstErrorSeq !== undefined && (
        <button type="button" className="link" onClick={() => (window.location.hash = `L${firstErrorSeq}`)}>
          Jump to the first error (line {count(firstErrorSeq)})
        </button>
      )}
    </div>
  );
}

// eslint-disable-next-line no-control-regex -- ANSI escape codes are control characters
const ANSI_CODES = /\u001b\[[0-9;]*[A-Za-z]/g;

export function JobPage({ jobId }: { jobId: string }) {
  const cached = useQuery(jobQuery(jobId));
  const stream = useJobStream(jobId);
  const job = stream.job ?? cached.data;
  const now = useNow();
  const alerts = useJobAlerts([job]);
  // Not found is a page of its own, not a code above an empty log (the same answer for a job that
  // does not exist and someone else's: existence is never revealed).
  if (!job && stream.error?.code === 'not_found') return <JobNotFound jobId={jobId} />;
  return (
    <main className="job-page">
      <div className="bar">
        <h1>{job?.title ?? jobId}</h1>
        {job && <StatusBadge status={job.status} />}
        {job && <CancelButton job={job} />}
        <NotifyToggle alerts={alerts} />
      </div>
      {job && (
        <dl className="meta">
          <dt>Owner</dt>
          <dd>{job.owner}</dd>
          <dt>Started</dt>
          <dd>
            {job.startedAt ? (
              <time dateTime={new Date(job.startedAt).toISOString()}>{dateTime(job.startedAt)}</time>
            ) : (
              '–'
            )}
          </dd>
          <dt>Finished</dt>
          <dd>
            {job.finishedAt ? (
              <time dateTime={new Date(job.finishedAt).toISOString()}>{dateTime(job.finishedAt)}</time>
            ) : (
              '–'
            )}
          </dd>
          <dt>Duration</dt>
          <dd>{duration(job, now)}</dd>
          {job.branch && (
            <>
              <dt>Branch</dt>
              <dd>{job.branch}</dd>
            </>
          )}
          {(job.linesAdded !== undefined || job.linesRemoved !== undefined) && (
            <>
              <dt>Changes</dt>
              <dd>
                <span className="added">+{job.linesAdded ?? 0}</span>{' '}
                <span className="removed">−{job.linesRemoved ?? 0}</span>
              </dd>
            </>
          )}
        </dl>
      )}
      {job?.status === 'success' && job.mrUrl && (
        <a className="button mr" href={job.mrUrl} target="_blank" rel="noreferrer">
          Open merge request
        </a>
      )}
      {job?.status === 'failed' && <FailureSummary job={job} lines={stream.lines.lines} />}
      {job && <AnnotationsPanel job={job} />}
      <OutputViewer jobId={jobId} stream={stream} />
    </main>
  );
}

function JobNotFound({ jobId }: { jobId: string }) {
  return (
    <main className="not-found">
      <h1>Job “{jobId}” not found</h1>
      <p>
        There is no job with this id that you can see: it may not have started yet, may have been removed
        after its retention, or may belong to someone else. <SeeAllJobs />
      </p>
    </main>
  );
}
