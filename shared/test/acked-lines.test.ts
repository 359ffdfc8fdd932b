import { describe, expect, it } from '@jest/globals';
import { AckedLines } from '../runner/acked-lines.js';
import type { LineToAppend } from '../redis/functions.js';

const lines = (from: number, to: number): LineToAppend[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ stream: 'stdout', line: `l${from + i}` }));
const texts = (held: LineToAppend[] | null) => held?.map((l) => l.line) ?? null;

describe('AckedLines', () => {
  it('gives back the acknowledged lines after a seq, across batches', () => {
    const acked = new AckedLines(100, 1 << 20);
    acked.record(lines(1, 3), 3);
    acked.record(lines(4, 6), 6);
    expect(texts(acked.after(2))).toEqual(['l3', 'l4', 'l5', 'l6']);
    expect(texts(acked.after(6))).toEqual([]);
    expect(texts(acked.after(0))).toEqual(['l1', 'l2', 'l3', 'l4', 'l5', 'l6']);
  });

  it('keeps only the newest lines within its bounds and says when older ones are gone', () => {
    const acked = new AckedLines(4, 1 << 20);
    acked.record(lines(1, 6), 6);
    expect(texts(acked.after(2))).toEqual(['l3', 'l4', 'l5', 'l6']);
    expect(acked.after(1)).toBeNull();
    const byBytes = new AckedLines(100, 6); // 'lN' is 2 bytes: three lines fit
    byBytes.record(lines(1, 5), 5);
    expect(texts(byBytes.after(2))).toEqual(['l3', 'l4', 'l5']);
    expect(byBytes.after(1)).toBeNull();
  });

  it('replaces lines appended again at the same seqs, and starts over on a jump', () => {
    const acked = new AckedLines(100, 1 << 20);
    acked.record(lines(1, 10), 10);
    acked.record(lines(8, 12), 12); // 8–10 again after a failover, then 11–12
    expect(texts(acked.after(6))).toEqual(['l7', 'l8', 'l9', 'l10', 'l11', 'l12']);
    acked.record(lines(20, 21), 21); // not contiguous (a status change's seq, say): start over
    expect(acked.after(12)).toBeNull();
    expect(texts(acked.after(19))).toEqual(['l20', 'l21']);
  });
});
