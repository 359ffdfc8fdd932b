/** How lengths of time are written, the same on the dashboard and in the CLI. */
import type { Job } from '../../../shared/job.js';

/** A job's run time so far (or in all), e.g. `4m 12s`, `2h 05m`; `–` before it starts. */
export function duration(job: Pick<Job, 'startedAt' | 'finishedAt'>, now: number): string {
  if (!job.startedAt) return '–';
  return span(Math.max(0, Math.round(((job.finishedAt ?? now) - job.startedAt) / 1000)));
}

/** Seconds as `12s`, `4m 12s`, `2h 05m`. */
export function span(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** How long ago, e.g. `just now`, `5 min ago`, `3 h ago`, `2 days ago`. */
export function ago(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  const days = Math.round(s / 86_400);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}
