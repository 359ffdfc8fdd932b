/**
 * The lines a publisher has seen Redis acknowledge most recently, by seq. Redis replicates
 * asynchronously: a primary can acknowledge a batch and die before its replica has it, and the
 * promoted replica then holds an older `seq`. The publisher (the job's only writer) notices that
 * after a failover and appends the lost lines again from here, so every seq ends up with exactly
 * the content it had — nothing renumbered, nothing reused for different text. Bounded by lines
 * and bytes: a failover loses at most the replication lag's worth, far less than the bound.
 */
import type { LineToAppend } from '../redis/functions.js';

export class AckedLines {
  private lines: LineToAppend[] = [];
  /** Seq of lines[0]. */
  private firstSeq = 1;
  private bytes = 0;

  constructor(
    private readonly maxLines: number,
    private readonly maxBytes: number,
  ) {}

  /** Redis acknowledged `batch` as the lines ending at `lastSeq`. */
  record(batch: readonly LineToAppend[], lastSeq: number): void {
    const batchFirst = lastSeq - batch.length + 1;
    const end = this.firstSeq + this.lines.length;
    if (this.lines.length === 0 || batchFirst < this.firstSeq || batchFirst > end) {
      // Nothing held yet, or not contiguous with what is: start again from this batch.
      this.lines = [];
      this.bytes = 0;
      this.firstSeq = batchFirst;
    } else if (batchFirst < end) {
      // Lines appended again after a failover: the same seqs, the same content; replace them.
      for (const line of this.lines.splice(batchFirst - this.firstSeq)) this.bytes -= line.line.length;
    }
    for (const line of batch) {
      this.lines.push(line);
      this.bytes += line.line.length;
    }
    let drop = 0;
    while (
      this.lines.length - drop > 1 &&
      (this.lines.length - drop > this.maxLines || this.bytes > this.maxBytes)
    ) {
      this.bytes -= this.lines[drop]!.line.length;
      drop++;
    }
    if (drop > 0) {
      this.lines.splice(0, drop);
      this.firstSeq += drop;
    }
  }

  /**
   * The acknowledged lines after `seq` (oldest first), or null when some of them are no longer
   * held (they cannot be rebuilt exactly).
   */
  after(seq: number): LineToAppend[] | null {
    if (this.lines.length === 0) return null;
    if (seq + 1 < this.firstSeq) return null;
    return this.lines.slice(Math.max(0, seq + 1 - this.firstSeq));
  }
}
