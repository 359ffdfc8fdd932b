/**
 * How the CLI writes: job lines to stdout exactly as stored (ANSI colours kept on a terminal,
 * removed with `--no-color`, `NO_COLOR` or when stdout is not a terminal; `--color` forces them),
 * `--json` as one object per line, and everything about the run (notices, a replay's progress) to
 * stderr, so `jobstream logs 42 > log.txt` holds the log and nothing else.
 */
import stripAnsi from 'strip-ansi';
import type { ServerFrame } from '../../client/src/index.js';

/** `--color`/`--no-color` (undefined: neither), then NO_COLOR (https://no-color.org), then a TTY. */
export function colorWanted(
  flag: boolean | undefined,
  stream: NodeJS.WriteStream,
  env = process.env,
): boolean {
  if (flag !== undefined) return flag;
  if (env.NO_COLOR) return false;
  return stream.isTTY === true;
}

/**
 * Resolves when everything written to `stream` so far has been handed to the OS: stdout to a pipe
 * is asynchronous, so exiting without this cuts a long log short.
 */
export function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/** The prefix colours of `watch`, one per job in turn (docker compose's order). */
const PREFIX_COLORS = [36, 33, 32, 35, 34, 91, 96, 93, 92, 95, 94];

export class Printer {
  /** Whether a line still being written is on screen (stdout is a terminal), to be replaced. */
  private pendingShown = false;

  constructor(
    readonly color: boolean,
    readonly json: boolean,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
  ) {}

  /** A line of a job, with `prefix` (watch) before it. */
  line(text: string, prefix = ''): void {
    this.lines([text], prefix);
  }

  /** Lines of a job in one write (a write per line costs more than the rest of printing). */
  lines(texts: readonly string[], prefix = ''): void {
    if (texts.length === 0) return;
    let chunk = this.clearPending();
    for (const text of texts) chunk += `${prefix}${this.color ? text : stripAnsi(text)}\n`;
    this.out.write(chunk);
  }

  /**
   * A line still being written (a `progress` frame: a `\r` progress bar, a prompt), shown in place
   * as a terminal would until its stored line (or any other) replaces it. Only on a terminal, cut
   * to its width so `\r` can redraw it; a file or a pipe gets stored lines only.
   */
  pending(text: string, prefix = ''): void {
    if (!this.out.isTTY || this.json) return;
    // A terminal that does not say its size (a serial console, `script`) has 0 columns: take 80.
    const width = Math.max(10, (this.out.columns || 80) - 1 - stripAnsi(prefix).length);
    const visible = Array.from(stripAnsi(text)).slice(0, width).join(''); // whole characters
    this.out.write(`\r\x1b[K${prefix}${visible}`);
    this.pendingShown = visible.length > 0 || prefix.length > 0;
  }

  /** Takes a pending line off the screen (the job ended, or something else is said). */
  endPending(): void {
    const clear = this.clearPending();
    if (clear) this.out.write(clear);
  }

  private clearPending(): string {
    if (!this.pendingShown) return '';
    this.pendingShown = false;
    return '\r\x1b[K';
  }

  /** One object per line, for programs (`--json`). */
  object(value: unknown): void {
    this.out.write(`${JSON.stringify(value)}\n`);
  }

  /** A wire-protocol frame, one per line (`logs --json`, `watch --json`): typed as the protocol says. */
  frame(frame: ServerFrame): void {
    this.object(frame);
  }

  /** Resolves once what was written has left (a page at a time: a slow reader holds no whole log). */
  async drained(): Promise<void> {
    await Promise.all([flushed(this.out), flushed(this.err)]);
  }

  /** Plain output of a command (a table row, a confirmation). */
  text(text: string): void {
    this.out.write(`${text}\n`);
  }

  /** Something about the run rather than the job's output: to stderr. */
  notice(text: string): void {
    this.endPending();
    this.err.write(`jobstream: ${text}\n`);
  }

  /** `text` in an SGR style when colour is on: `dim`, `bold` or a colour number. */
  style(text: string, style: 'dim' | 'bold' | number): string {
    if (!this.color) return text;
    const code = style === 'dim' ? 2 : style === 'bold' ? 1 : style;
    return `\x1b[${code}m${text}\x1b[0m`;
  }

  /** The `id | ` before each line of job number `index` in `watch`, padded to `width`. */
  prefix(id: string, index: number, width: number): string {
    const color = PREFIX_COLORS[index % PREFIX_COLORS.length] ?? 36;
    return this.style(`${id.padEnd(width)} | `, color);
  }
}

/**
 * "Replaying 12,000 of 130,000 lines" on stderr while a long log is read back, redrawn at most
 * five times a second and erased at the end. Only when stderr is a terminal and stdout is not
 * one (the log goes to a file or a pipe): on a terminal the scrolling lines are the progress.
 */
export class ReplayProgress {
  private shown = false;
  private drawnAt = 0;

  constructor(
    private readonly total: number,
    private readonly enabled = process.stderr.isTTY === true && process.stdout.isTTY !== true,
  ) {}

  update(done: number): void {
    if (!this.enabled || Date.now() - this.drawnAt < 200) return;
    this.drawnAt = Date.now();
    this.shown = true;
    process.stderr.write(
      `\r\x1b[Kreplaying ${Math.min(done, this.total).toLocaleString('en-US')} of ${this.total.toLocaleString('en-US')} lines`,
    );
  }

  end(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
