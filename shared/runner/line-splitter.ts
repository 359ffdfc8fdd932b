/**
 * Turns a byte stream (a child's stdout) into lines the way a terminal shows them:
 * `\n` and `\r\n` end a line; a lone `\r` returns to the start of the line, so a progress bar
 * that redraws itself with `\r` leaves its final state, not one line per redraw; a last line
 * without `\n` is emitted by `end()`. Invalid UTF-8 becomes U+FFFD. A line of megabytes keeps
 * only its head (the rest is counted for the truncation marker), so memory stays bounded.
 */
import { limitLine, MAX_LINE_BYTES } from './line-limit.js';

const LF = 0x0a;
const CR = 0x0d;
/** Bytes kept of one line: the limit plus room to finish a character cut at the limit. */
const KEEP_BYTES = MAX_LINE_BYTES + 4;

export class LineSplitter {
  private readonly kept = Buffer.alloc(KEEP_BYTES);
  private keptLength = 0;
  private droppedBytes = 0;
  /** A `\r` was seen: the next byte either ends the line (`\n`) or starts it over. */
  private carriageReturn = false;

  constructor(private readonly onLine: (line: string) => void) {}

  write(chunk: Uint8Array): void {
    let start = 0; // first byte of chunk not yet copied into the current line
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.carriageReturn) {
        this.carriageReturn = false;
        if (byte !== LF) this.reset();
      }
      if (byte === LF) {
        this.append(chunk, start, i);
        this.emit();
        start = i + 1;
      } else if (byte === CR) {
        this.append(chunk, start, i);
        this.carriageReturn = true;
        start = i + 1;
      }
    }
    this.append(chunk, start, chunk.length);
  }

  /**
   * The text of the line still being written (no newline yet: a prompt, or a progress bar
   * redrawn with `\r`, as a terminal shows it now), or null when there is none. A character cut
   * at the end of the bytes read so far is left out until the rest arrives.
   */
  openLine(): string | null {
    if (this.keptLength === 0) return null;
    let end = this.keptLength;
    // Back off an incomplete UTF-8 sequence at the end (at most 3 bytes of one).
    for (let back = 1; back <= 3 && back <= end; back++) {
      const byte = this.kept[end - back]!;
      if (byte < 0x80) break; // ASCII: complete
      if (byte >= 0xc0) {
        const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
        if (need > back) end -= back;
        break;
      }
    }
    return this.kept.toString('utf8', 0, end);
  }

  /** Emits the last line if it did not end with a newline. */
  end(): void {
    if (this.keptLength > 0 || this.droppedBytes > 0) this.emit();
    this.carriageReturn = false;
  }

  private append(chunk: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    const room = KEEP_BYTES - this.keptLength;
    const copied = Math.min(room, to - from);
    this.kept.set(chunk.subarray(from, from + copied), this.keptLength);
    this.keptLength += copied;
    this.droppedBytes += to - from - copied;
  }

  private emit(): void {
    const text = this.kept.subarray(0, this.keptLength).toString('utf8');
    const dropped = this.droppedBytes;
    this.reset();
    this.onLine(limitLine(text, dropped));
  }

  private reset(): void {
    this.keptLength = 0;
    this.droppedBytes = 0;
  }
}
