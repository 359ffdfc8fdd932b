/**
 * The job's annotations, as GitHub lists them above a run's log: every `::error::`,
 * `::warning::` and `::notice::` line the job wrote (kept by the server as lines were stored, so
 * one far back in a long log is listed too), each a link to its line.
 */
import { useQuery } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import { annotationsQuery } from '../api/queries.js';
import { count } from './format.js';

const LEVEL_WORD = { error: 'Error', warning: 'Warning', notice: 'Notice' } as const;

export function AnnotationsPanel({ job }: { job: Job }) {
  const counts = job.annotationCounts;
  const total = counts ? counts.error + counts.warning + counts.notice : 0;
  const query = useQuery(annotationsQuery(job.id, total));
  if (!counts || total === 0) return null;
  const listed = query.data?.annotations ?? [];
  const parts = (['error', 'warning', 'notice'] as const)
    .filter((level) => counts[level] > 0)
    .map((level) => `${count(counts[level])} ${counts[level] === 1 ? level : `${level}s`}`);
  return (
    <section className="annotations" aria-label="Annotations">
      <h2>Annotations: {parts.join(', ')}</h2>
      {query.error && <p role="alert">could not load them: {query.error.message}</p>}
      <ul>
        {listed.map((a) => (
          <li key={a.seq} className={`level-${a.level}`}>
            <strong>{LEVEL_WORD[a.level]}:</strong> {a.message}
            {a.file && (
              <span className="where">
                {' '}
                ({a.file}
                {a.line !== undefined ? `:${a.line}` : ''})
              </span>
            )}{' '}
            <a href={`#L${a.seq}`}>line {count(a.seq)}</a>
          </li>
        ))}
      </ul>
      {query.data && query.data.total > listed.length && (
        <p className="more">
          {count(query.data.total - listed.length)} more not listed (the first {count(listed.length)} are
          kept)
        </p>
      )}
    </section>
  );
}
