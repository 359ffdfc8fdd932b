import { describe, expect, it } from '@jest/globals';
import { describeViolation, SubscriptionTracker } from './tracker.js';

const tracked = (): SubscriptionTracker => {
  const t = new SubscriptionTracker('job-1', 7);
  t.started(10); // tail 0 at lastSeq 10: lines from 11 are owed
  return t;
};
const kinds = (t: SubscriptionTracker) => t.violations.map(describeViolation);

describe('SubscriptionTracker', () => {
  it('accepts every line once, in order, through done', () => {
    const t = tracked();
    for (let s = 11; s <= 20; s++) t.line(s);
    t.finished(20);
    t.settle();
    expect(t.clean).toBe(true);
    expect(t.lastSeq).toBe(20);
  });

  it('reports a repeat and a line never delivered, with job, seq and socket', () => {
    const t = tracked();
    for (const s of [11, 12, 12, 14, 15]) t.line(s);
    t.finished(15);
    t.settle();
    expect(kinds(t)).toEqual(['repeated: job job-1 seq 12 socket 7', 'missing: job job-1 seq 13 socket 7']);
  });

  it('a late line is out of order, not missing', () => {
    const t = tracked();
    for (const s of [11, 13, 12, 14]) t.line(s);
    t.settle();
    expect(kinds(t)).toEqual(['out of order: job job-1 seq 12 socket 7']);
  });

  it('lines announced by a gap are never missing; the gap is counted apart', () => {
    const t = tracked();
    t.line(11);
    t.gap(12, 20);
    t.line(21);
    t.finished(21);
    t.settle();
    expect(t.clean).toBe(true);
    expect(t.gapLines).toBe(9);
  });

  it('a replay overlapping live frames across a reconnect (since = lastSeq) is exact; a re-sent line is a repeat', () => {
    const t = tracked();
    for (const s of [11, 12, 13]) t.line(s);
    expect(t.lastSeq).toBe(13); // resubscribe with since 13
    t.started(40); // a fresh status after the reconnect does not move the position
    for (const s of [14, 15]) t.line(s);
    t.line(15); // the gateway sent 15 twice across the switch
    t.finished(15);
    t.settle();
    expect(kinds(t)).toEqual(['repeated: job job-1 seq 15 socket 7']);
  });

  it('lines owed up to done that never came are missing', () => {
    const t = tracked();
    t.line(11);
    t.finished(13);
    t.settle();
    expect(kinds(t)).toEqual(['missing: job job-1 seq 12 socket 7', 'missing: job job-1 seq 13 socket 7']);
  });

  it('knows its position from the first status, before any line (a reconnect then resumes with since)', () => {
    const t = new SubscriptionTracker('job-2', 1);
    expect(t.positioned).toBe(false);
    t.started(15);
    expect(t.positioned).toBe(true);
    expect(t.lastSeq).toBe(15); // since 15: lines published while away are owed and delivered
    t.line(16);
    t.settle();
    expect(t.clean).toBe(true);
  });
});
