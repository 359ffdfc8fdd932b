/**
 * The lines a JobPublisher was given and Redis has not stored yet, oldest first: a window in
 * memory, and beyond it a spool file (line-spool.ts), so that a command faster than Redis waits
 * on disk instead of being dropped. Once anything is spooled, later lines go to the spool too
 * (order is kept); as the window empties it is refilled from the spool.
 *
 * Only when the spool is full too is a line dropped; a run of dropped lines is replaced by one
 * stderr notice, where they were, saying how many and why, as soon as there is room for it.
 */
import { tmpdir } from 'node:os';
import { LineSpool } from './line-spool.js';
import type { LineToAppend } from '../redis/functions.js';

export interface OutgoingLimits {
  /** Lines and bytes of text kept in memory before lines go to the spool. */
  windowLines: number;
  windowBytes: number;
  /** The spool's folder and its size limit (0: no spool, lines past the window are refused). */
  spoolDir?: string | undefined;
  spoolMaxBytes: number;
}

/** Why lines were dropped: Redis did not answer, or answered more slowly than lines came. */
export type DropReason = 'unreachable' | 'slower';

export class OutgoingLines {
  private window: LineToAppend[] = [];
  private windowBytes = 0;
  private readonly spool: LineSpool | null;
  /** Lines dropped since the last one kept (their notice is owed), and why the first was. */
  private droppedRun = 0;
  private droppedRunReason: DropReason = 'slower';

  constructor(private readonly limits: OutgoingLimits) {
    this.spool =
      limits.spoolMaxBytes > 0 ? new LineSpool(limits.spoolDir ?? tmpdir(), limits.spoolMaxBytes) : null;
  }

  get length(): number {
    return this.window.length + (this.spool?.length ?? 0);
  }

  /** Lines waiting in the spool file. */
  get spooled(): number {
    return this.spool?.length ?? 0;
  }

  /** The memory window is full: further lines go to the spool. */
  get windowFull(): boolean {
    return this.window.length >= this.limits.windowLines || this.windowBytes >= this.limits.windowBytes;
  }

  /**
   * Queues a line; false when it was dropped (past the window, and the spool is full, or an
   * earlier drop's notice has no room yet: a line never jumps ahead of one dropped before it).
   */
  push(line: LineToAppend, reasonIfDropped: DropReason): boolean {
    if (this.placeDropNotice() && this.keep(line)) return true;
    if (this.droppedRun === 0) this.droppedRunReason = reasonIfDropped;
    this.droppedRun++;
    return false;
  }

  private keep(line: LineToAppend): boolean {
    if (this.spooled === 0 && !this.windowFull) {
      this.window.push(line);
      this.windowBytes += line.line.length;
      return true;
    }
    return this.spool?.push(line) ?? false;
  }

  /** Takes up to `maxLines` lines (about `maxBytes` of text) to send, oldest first. */
  take(maxLines: number, maxBytes: number): LineToAppend[] {
    let count = 0;
    let bytes = 0;
    while (count < this.window.length && count < maxLines && bytes < maxBytes) {
      bytes += this.window[count]!.line.length;
      count++;
    }
    const batch = this.window.splice(0, count);
    this.windowBytes -= bytes;
    if (this.spool && this.spool.length > 0 && batch.length < maxLines && bytes < maxBytes)
      batch.push(...this.spool.take(maxLines - batch.length, maxBytes - bytes));
    this.refill();
    this.placeDropNotice();
    return batch;
  }

  /** Lines dropped whose notice is not queued yet. */
  get noticeOwed(): boolean {
    return this.droppedRun > 0;
  }

  /** Queues the notice for the last run of dropped lines, if one is owed and fits: false if not. */
  private placeDropNotice(): boolean {
    if (this.droppedRun === 0) return true;
    const why =
      this.droppedRunReason === 'unreachable'
        ? 'while Redis was unreachable'
        : 'while Redis stored lines more slowly than the command wrote them';
    const notice: LineToAppend = {
      stream: 'stderr',
      line: `[jobstream] ${this.droppedRun} lines were dropped here: the runner's spool (${size(this.limits.spoolMaxBytes)}) was full ${why}`,
    };
    if (!this.keep(notice)) return false;
    this.droppedRun = 0;
    return true;
  }

  /** Frees the spool file. */
  close(): void {
    this.spool?.close();
  }

  /** Moves spooled lines into the window while it has room (they stay in order: it was empty of newer ones). */
  private refill(): void {
    if (!this.spool) return;
    while (this.spool.length > 0 && !this.windowFull) {
      const room = this.limits.windowLines - this.window.length;
      for (const line of this.spool.take(Math.min(room, 1000), this.limits.windowBytes - this.windowBytes)) {
        this.window.push(line);
        this.windowBytes += line.line.length;
      }
    }
  }
}

/** A size as people write it: 1 GiB, 64 MiB, 2 KiB. */
function size(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Math.round(value)} ${units[unit]}`;
}
