/**
 * The lines of one job as the browser holds them: outside React state, deduplicated by seq,
 * capped at `maxLines` (older lines are dropped and counted, so the view can say so and link to
 * the full download), each parsed for ANSI colours once, as it arrives.
 *
 * Rendering is coalesced: listeners are notified on an animation frame, and while lines keep
 * arriving at most once every `RENDER_INTERVAL_MS`. A log streaming 1,000 lines a second into
 * several panes is re-rendered ten times a second, not sixty, so the main thread stays free for
 * scrolling and typing; a line after a quiet spell still shows on the next frame.
 *
 * A `progress` frame (a line still being written: a `\r` progress bar, a prompt) is held as the
 * pending last line, shown after the stored ones until the next `output` replaces it; one that
 * follows an older line than the last held is stale and ignored (docs/protocol.md).
 */
import Anser from 'anser';
import { applyBackspaces, extractHyperlinks, type Hyperlink } from './terminal-text.js';
import { background, foreground, reversed } from './ansi-palette.js';
import type { OutputLine, ProgressFrame } from '../../../shared/protocol.js';

export interface StyledSpan {
  text: string;
  fg: string | null;
  bg: string | null;
  bold: boolean;
  italic: boolean;
  underline: boolean;
  /** SGR 2 (faint): a tool's de-emphasised text, such as a code frame's context. */
  dim: boolean;
  /** SGR 9. */
  strikethrough: boolean;
  /** SGR 7: foreground and background swapped (a selection, a highlighted cursor). */
  reverse: boolean;
  /** An OSC 8 hyperlink's target (http or https only). */
  href?: string;
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
  /** The line still being written (from a `progress` frame), shown after the last one; not stored. */
  pending: ViewLine | null;
  version: number;
}

export const DEFAULT_MAX_LINES = 10_000;
/** The shortest time between two renders of a streaming log. */
export const RENDER_INTERVAL_MS = 100;

/** Runs `callback` on an animation frame at least `delayMs` from now. */
type Scheduler = (callback: () => void, delayMs: number) => void;
const onFrame = (cb: () => void): void => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => cb());
  else setTimeout(cb, 16);
};
const nextFrame: Scheduler = (cb, delayMs) => {
  if (delayMs > 0) setTimeout(() => onFrame(cb), delayMs);
  else onFrame(cb);
};

export class LineStore {
  private lines: ViewLine[] = [];
  private gaps: GapNotice[] = [];
  private dropped = 0;
  private lastSeq = 0;
  private pending: ViewLine | null = null;
  private version = 0;
  private snapshot: LineStoreSnapshot;
  private readonly listeners = new Set<() => void>();
  private scheduled = false;
  /** When listeners were last told (ms, `performance.now()`), for the render interval. */
  private notifiedAt = -Infinity;
  private readonly styler = new AnsiStyler();

  constructor(
    readonly maxLines = DEFAULT_MAX_LINES,
    private readonly schedule: Scheduler = nextFrame,
    private readonly now: () => number = () => performance.now(),
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
      this.lines.push(this.styler.style(line));
      this.lastSeq = line.seq;
      added = true;
    }
    if (!added) return;
    this.pending = null; // the line it showed has been stored, or a newer one came
    const over = this.lines.length - this.maxLines;
    if (over > 0) {
      this.lines.splice(0, over);
      this.dropped += over;
    }
    this.changed();
  }

  /** A line still being written; ignored when it follows an older line than the last held. */
  setPending(frame: Pick<ProgressFrame, 'afterSeq' | 'stream' | 'line'>): void {
    if (frame.afterSeq < this.lastSeq) return;
    const line = { seq: frame.afterSeq + 1, ts: Date.now(), stream: frame.stream, line: frame.line };
    this.pending = this.styler.preview(line);
    this.changed();
  }

  /** The job ended or the subscription went away: no line is being written any more. */
  clearPending(): void {
    if (this.pending === null) return;
    this.pending = null;
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
    const delayMs = Math.max(0, this.notifiedAt + RENDER_INTERVAL_MS - this.now());
    this.schedule(() => {
      this.scheduled = false;
      this.notifiedAt = this.now();
      this.snapshot = this.makeSnapshot();
      for (const listener of this.listeners) listener();
    }, delayMs);
  }

  private makeSnapshot(): LineStoreSnapshot {
    return {
      lines: this.lines.slice(),
      lastSeq: this.lastSeq,
      dropped: this.dropped,
      gaps: this.gaps.slice(),
      pending: this.pending,
      version: this.version,
    };
  }
}

/**
 * Lines to styled spans, in order: ANSI state carries from one line to the next, as a terminal's
 * would. One per run of contiguous lines (the live store, a page of earlier lines).
 */
/** No colour, no decoration. */
const PLAIN: Omit<StyledSpan, 'text'> = {
  fg: null,
  bg: null,
  bold: false,
  italic: false,
  underline: false,
  dim: false,
  strikethrough: false,
  reverse: false,
};

export class AnsiStyler {
  /** ANSI colours still in effect at the end of the previous line. */
  private carry: Omit<StyledSpan, 'text'> = PLAIN;

  style(line: OutputLine): ViewLine {
    return { ...line, spans: this.parse(line.line) };
  }

  /** Styles a line as the next one would be, without carrying its colours on (a pending line). */
  preview(line: OutputLine): ViewLine {
    const carry = this.carry;
    const styled = this.style(line);
    this.carry = carry;
    return styled;
  }

  private parse(raw: string): StyledSpan[] {
    const { text, links } = extractHyperlinks(applyBackspaces(raw));
    return links.length > 0 ? withLinks(this.sgr(text), links) : this.sgr(text);
  }

  private sgr(text: string): StyledSpan[] {
    if (!text.includes('\u001b[')) {
      return [{ text, ...this.carry }];
    }
    // Empty entries kept: a reset at the very end must still end the carry.
    const parts = Anser.ansiToJson(text, { json: true, remove_empty: false, use_classes: false });
    const spans: StyledSpan[] = [];
    parts.forEach((part, i) => {
      // Only text before the line's first escape inherits the previous line's colours; anser
      // tracks the state within the line from there on.
      const inherits = i === 0 && !text.startsWith('\u001b[');
      // anser's JSON has `isInverted` (SGR 7); its type declarations do not.
      const inverted = (part as { isInverted?: boolean }).isInverted === true;
      const span: StyledSpan = inherits
        ? { text: part.content, ...this.carry }
        : {
            text: part.content,
            ...(inverted
              ? reversed(part.fg, part.bg)
              : { fg: part.fg ? foreground(part.fg) : null, bg: part.bg ? background(part.bg) : null }),
            bold: part.decorations.includes('bold'),
            italic: part.decorations.includes('italic'),
            underline: part.decorations.includes('underline'),
            dim: part.decorations.includes('dim'),
            strikethrough: part.decorations.includes('strikethrough'),
            reverse: inverted,
          };
      if (i === parts.length - 1) {
        const { text: _text, ...carry } = span;
        this.carry = carry;
      }
      if (span.text !== '') spans.push(span);
    });
    return spans;
  }
}

/** Spans cut where links begin and end, the linked pieces carrying their `href`. */
function withLinks(spans: StyledSpan[], links: readonly Hyperlink[]): StyledSpan[] {
  const out: StyledSpan[] = [];
  let at = 0;
  for (const span of spans) {
    const end = at + span.text.length;
    const cuts = new Set([at, end]);
    for (const link of links)
      for (const edge of [link.start, link.end]) if (edge > at && edge < end) cuts.add(edge);
    const edges = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i < edges.length - 1; i++) {
      const [from, to] = [edges[i]!, edges[i + 1]!];
      const link = links.find((l) => l.start <= from && to <= l.end);
      const piece: StyledSpan = { ...span, text: span.text.slice(from - at, to - at) };
      if (link) piece.href = link.href;
      out.push(piece);
    }
    at = end;
  }
  return out;
}
