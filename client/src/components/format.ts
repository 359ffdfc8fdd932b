/** How times are written on the dashboard. */
export { ago, duration, span } from '../../../packages/client/src/index.js';

/** A count with the reader's thousands separators (the one way counts are written). */
export function count(n: number): string {
  return n.toLocaleString();
}

/** A moment, the one way the dashboard writes one: `Dec 6, 2026, 11:45 PM` in the reader's locale. */
export function dateTime(at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
