/**
 * Exactly-once checking for one subscription, as a load tester sees it: every line the gateway
 * owes it must arrive once, in order, or be announced by a `gap` frame. Pure (no sockets), so it
 * is unit tested on its own; a worker feeds it every frame of a subscription, across reconnects.
 *
 * The model: `next` is the seq owed next. A line at `next` advances it. A line past `next` leaves
 * a hole (lines that may yet arrive — then they are out of order — or never: missing). A line
 * before `next` that fills no hole is a repeat. A gap frame announces lines that Redis no longer
 * holds; announced lines are never missing. At the end, holes left are missing, and so is any
 * line up to the job's final seq (`done`) that never came.
 */

export type ViolationKind = 'missing' | 'repeated' | 'out of order';

export interface Violation {
  kind: ViolationKind;
  jobId: string;
  seq: number;
  socket: number;
}

/** Most violations kept per subscription (they are counted past it). */
const MAX_KEPT = 20;

export class SubscriptionTracker {
  /** The seq owed next; 0 until the first status says where the subscription starts. */
  private next = 0;
  /** Seqs skipped over that may still arrive (out of order) or are missing. */
  private readonly holes = new Set<number>();
  private finalSeq: number | null = null;
  readonly violations: Violation[] = [];
  counts = { missing: 0, repeated: 0, 'out of order': 0 };
  lines = 0;
  gapLines = 0;
  done = false;

  constructor(
    readonly jobId: string,
    readonly socket: number,
  ) {}

  /** The position is known (a status or a line came): resume with `since`, never `tail`, from here on. */
  get positioned(): boolean {
    return this.next > 0;
  }

  /** The last seq held, for resuming with `since` after a reconnect. */
  get lastSeq(): number {
    return Math.max(0, this.next - 1);
  }

  /** A `status` frame: the first one says where a `tail: 0` subscription starts. */
  started(lastSeq: number): void {
    if (this.next === 0) this.next = lastSeq + 1;
  }

  /** Starts at a known seq (a subscription with `since`, or from the beginning). */
  startAt(seq: number): void {
    if (this.next === 0) this.next = seq;
  }

  line(seq: number): void {
    this.lines++;
    if (this.next === 0) this.next = seq; // no status seen: trust the first line
    if (seq === this.next) {
      this.next++;
      return;
    }
    if (seq > this.next) {
      for (let s = this.next; s < seq; s++) this.holes.add(s);
      this.next = seq + 1;
      return;
    }
    if (this.holes.delete(seq)) this.record('out of order', seq);
    else this.record('repeated', seq);
  }

  /** A `gap` frame: lines fromSeq..toSeq are announced as gone. */
  gap(fromSeq: number, toSeq: number): void {
    this.gapLines += toSeq - fromSeq + 1;
    for (let s = fromSeq; s <= toSeq; s++) this.holes.delete(s);
    if (fromSeq <= this.next && toSeq >= this.next) this.next = toSeq + 1;
  }

  /** `done`: the job's last seq; every line up to it is owed. */
  finished(lastSeq: number): void {
    this.finalSeq = lastSeq;
    this.done = true;
  }

  /** Closes the books: holes and lines never delivered up to `done` are missing. */
  settle(): void {
    for (const seq of [...this.holes].sort((a, b) => a - b)) this.record('missing', seq);
    this.holes.clear();
    if (this.finalSeq !== null)
      for (let s = Math.max(this.next, 1); s <= this.finalSeq; s++) this.record('missing', s);
  }

  get clean(): boolean {
    return this.counts.missing + this.counts.repeated + this.counts['out of order'] === 0;
  }

  private record(kind: ViolationKind, seq: number): void {
    this.counts[kind]++;
    if (this.violations.length < MAX_KEPT)
      this.violations.push({ kind, jobId: this.jobId, seq, socket: this.socket });
  }
}

/** `missing|repeated|out of order: job <id> seq <n> socket <k>` */
export const describeViolation = (v: Violation): string =>
  `${v.kind}: job ${v.jobId} seq ${v.seq} socket ${v.socket}`;
