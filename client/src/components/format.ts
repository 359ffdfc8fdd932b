/** How times are written on the dashboard. */
import type { Job } from '../../../shared/job.js';

/** A job's run time so far (or in all), e.g. `4m 12s`; `–` before it starts. */
export function duration(job: Pick<Job, 'startedAt' | 'finishedAt'>, now: number): string {
  if (!job.startedAt) return '–';
  const s = Math.max(0, Math.round(((job.finishedAt ?? now) - job.startedAt) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}
