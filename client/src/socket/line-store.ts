/**
 * The lines of one job as the browser holds them: outside React state, deduplicated by seq,
 * capped at `maxLines` (older lines are dropped and counted, so the view can say so and link to
 * the full download), each parsed for ANSI colours once, as it arrives. Listeners are notified
 * at most once per animation frame however many frames arrive.
 */
import Anser from 'anser';
import type { OutputLine } from '../../../shared/protocol.js';

export interface StyledSpan {
  text: string;
  fg: string | null;
  bg: string | null;
  bold: boolean;
}

export interface ViewLine extends OutputLine {
  spans: StyledSpan[];
}

export interface GapNotice {
  fromSeq: number;
  toSeq: number;
  reason: string;
}

export interface LineStoreSnapshot {
  lines: readonly ViewLine[];
  lastSeq: number;
  /** Lines dropped from the view by the cap. */
  dropped: number;
  gaps: readonly GapNotice[];
  version: number;
}

export const DEFAULT_MAX_LINES = 10_000;

type Scheduler = (callback: () => void) => void;
const nextFrame: Scheduler =
  typeof requestAnimationFrame === 'function'
    ? (cb) => requestAnimationFrame(() => cb())
    : (cb) => setTimeout(cb, 16);

export class LineStore {
  private lines: ViewLine[] = [];
  private gaps: GapNotice[] = [];
  private dropped = 0;
  private lastSeq = 0;
  private version = 0;
  private snapshot: LineStoreSnapshot;
  private readonly listeners = new Set<() => void>();
  private scheduled = false;
  /** ANSI colours still in effect at the end of the previous line. */
  private carry: { fg: string | null; bg: string | null; bold: boolean } = {
    fg: null,
    bg: null,
    bold: false,
  };

  constructor(
    readonly maxLines = DEFAULT_MAX_LINES,
    private readonly schedule: Scheduler = nextFrame,
  ) {
    this.snapshot = this.makeSnapshot();
  }

  get highestSeq(): number {
    return this.lastSeq;
  }

  /** Adds lines, ignoring any seq already held (a reconnect may overlap). */
  append(lines: readonly OutputLine[]): void {
    let added = false;
    for (const line of lines) {
      if (line.seq <= this.lastSeq) continue;
      this.lines.push({ ...line, spans: this.parse(line.line) });
      this.lastSeq = line.seq;
      added = true;
    }
    if (!added) return;
    const over = this.lines.length - this.maxLines;
    if (over > 0) {
      this.lines.splice(0, over);
      this.dropped += over;
    }
    this.changed();
  }

  addGap(gap: GapNotice): void {
    this.gaps.push(gap);
    this.lastSeq = Math.max(this.lastSeq, gap.toSeq);
    this.changed();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LineStoreSnapshot => this.snapshot;

  private changed(): void {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.snapshot = this.makeSnapshot();
      for (const listener of this.listeners) listener();
    });
  }

  private makeSnapshot(): LineStoreSnapshot {
    return {
      lines: this.lines.slice(),
      lastSeq: this.lastSeq,
      dropped: this.dropped,
      gaps: this.gaps.slice(),
      version: this.version,
    };
  }

  private parse(text: string): StyledSpan[] {
    if (!text.includes('\u001b[')) {
      const { fg, bg, bold } = this.carry;
      return [{ text, fg, bg, bold }];
    }
    const parts = Anser.ansiToJson(text, { json: true, remove_empty: true, use_classes: false });
    const spans: StyledSpan[] = [];
    let { fg, bg, bold } = this.carry;
    for (const part of parts) {
      // anser reports the state after each escape; an explicit reset clears what the last line carried
      fg = part.fg ? `rgb(${part.fg})` : part.was_processed ? null : fg;
      bg = part.bg ? `rgb(${part.bg})` : part.was_processed ? null : bg;
      bold = part.decorations?.includes('bold') ?? (part.was_processed ? false : bold);
      spans.push({ text: part.content, fg, bg, bold });
    }
    // A line that ends after a reset (ESC[0m or ESC[m) carries nothing into the next one.
    const lastEscape = text.lastIndexOf('\u001b[');
    const endsReset = text.startsWith('\u001b[0m', lastEscape) || text.startsWith('\u001b[m', lastEscape);
    this.carry = endsReset ? { fg: null, bg: null, bold: false } : { fg, bg, bold };
    return spans;
  }
}
