/**
 * Lines the load tester publishes carry the time they were scheduled to be sent, not the time a
 * possibly slow publisher got to them, so a slow gateway (or Redis) shows up as latency instead
 * of slowing the publisher down and hiding itself (coordinated omission).
 */

/** Microseconds since the epoch (all processes of a run are on one machine, one clock). */
export const microsNow = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

const PREFIX = 'load ';

export const stampedLine = (scheduledMicros: number, n: number): string =>
  `${PREFIX}${scheduledMicros} #${n}`;

/** The scheduled time in a stamped line, or null for any other line. */
export function scheduledMicros(line: string): number | null {
  if (!line.startsWith(PREFIX)) return null;
  const value = Number.parseInt(line.slice(PREFIX.length), 10);
  return Number.isFinite(value) ? value : null;
}
