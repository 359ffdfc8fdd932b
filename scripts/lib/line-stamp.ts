/**
 * The one way load tests and benchmarks time a line: the line carries a time in microseconds
 * (`load <µs> #<n>`), and a receiver subtracts it from its own clock (all processes of a run are
 * on one machine, one clock). The load tester stamps the time a line was scheduled to be sent,
 * not the time a possibly slow publisher got to it, so a slow gateway (or Redis) shows up as
 * latency instead of slowing the publisher down and hiding itself (coordinated omission).
 */

/** Microseconds since the epoch. */
export const microsNow = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

const PREFIX = 'load ';

/** A line stamped with `micros` (and its number in the run, when the reader checks order). */
export const stampedLine = (micros: number, n?: number): string =>
  n === undefined ? `${PREFIX}${micros}` : `${PREFIX}${micros} #${n}`;

/** The stamp of a line, or null for any other line. */
export function scheduledMicros(line: string): number | null {
  if (!line.startsWith(PREFIX)) return null;
  const value = Number.parseInt(line.slice(PREFIX.length), 10);
  return Number.isFinite(value) ? value : null;
}

const STAMP_IN_FRAME = /"line":"load (\d+)/g;

/** Every stamp in a frame's JSON text, read without parsing it (the benchmarks' hot path). */
export function* stampsInFrame(text: string): Generator<number> {
  for (const match of text.matchAll(STAMP_IN_FRAME)) yield Number(match[1]);
}
