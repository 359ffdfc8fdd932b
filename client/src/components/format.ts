/** How times are written on the dashboard. */
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

/** A count with the reader's thousands separators (the one way counts are written). */
export function count(n: number): string {
  return n.toLocaleString();
}

/** A moment, the one way the dashboard writes one: `Dec 6, 2026, 11:45 PM` in the reader's locale. */
export function dateTime(at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
