/**
 * A runner's spool: lines waiting for Redis beyond what it keeps in memory, in a file on its own
 * disk, read back oldest first (as GitLab's runner keeps a trace on disk and uploads behind). A
 * command faster than Redis, a slow link or a Redis that is down for a while is then a delay,
 * never a loss: only a full spool (`maxBytes`) refuses a line.
 *
 * The file is created on first use in `dir` and unlinked at once (the open descriptor keeps it),
 * so nothing is left behind however the process ends. Records are `stream (1 byte) | length
 * (uint32 LE) | UTF-8 text`; writes are gathered into ~1 MiB before they reach the file, and when
 * everything written has been read back the file is truncated and used again.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { OutputStream } from '../protocol.js';
import type { LineToAppend } from '../redis/functions.js';

const HEADER_BYTES = 5;
const WRITE_GATHER_BYTES = 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

export class LineSpool {
  private fd: number | null = null;
  /** Bytes written to the file, and read back from it. */
  private written = 0;
  private read = 0;
  /** Records gathered for the next write (the first `gatheredBytes` of `gathered`; made on first use). */
  private gathered: Buffer = Buffer.alloc(0);
  private gatheredBytes = 0;
  /** Bytes read from the file and not yet taken. */
  private chunk: Buffer = Buffer.alloc(0);
  private lineCount = 0;

  constructor(
    private readonly dir: string,
    /** The most the spool holds at once, in record bytes. */
    readonly maxBytes: number,
  ) {}

  /** Lines waiting. */
  get length(): number {
    return this.lineCount;
  }

  /** Bytes the waiting lines take (records, as on disk). */
  get bytes(): number {
    return this.written - this.read + this.gatheredBytes + this.chunk.length;
  }

  /** Keeps a line; false (nothing kept) when it would take the spool past `maxBytes`. */
  push({ stream, line }: LineToAppend): boolean {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: when that surely fits, write without measuring.
    const worst = HEADER_BYTES + line.length * 3;
    if (this.bytes + worst > this.maxBytes) {
      if (this.bytes + HEADER_BYTES + Buffer.byteLength(line, 'utf8') > this.maxBytes) return false;
    }
    if (this.gatheredBytes + worst > this.gathered.length) {
      this.writeGathered();
      if (worst > this.gathered.length)
        this.gathered = Buffer.allocUnsafe(Math.max(worst, WRITE_GATHER_BYTES));
    }
    const at = this.gatheredBytes;
    const length = this.gathered.write(line, at + HEADER_BYTES, 'utf8');
    this.gathered[at] = stream === 'stderr' ? 1 : 0;
    this.gathered.writeUInt32LE(length, at + 1);
    this.gatheredBytes += HEADER_BYTES + length;
    this.lineCount++;
    return true;
  }

  /** Takes up to `maxLines` lines (and about `maxBytes` of text), oldest first. */
  take(maxLines: number, maxBytes: number): LineToAppend[] {
    const lines: LineToAppend[] = [];
    let bytes = 0;
    let at = 0;
    while (lines.length < maxLines && bytes < maxBytes && this.lineCount > 0) {
      if (
        this.chunk.length - at < HEADER_BYTES ||
        this.chunk.length - at < HEADER_BYTES + this.chunk.readUInt32LE(at + 1)
      ) {
        this.chunk = this.chunk.subarray(at);
        at = 0;
        this.readMore();
        continue;
      }
      const length = this.chunk.readUInt32LE(at + 1);
      const stream: OutputStream = this.chunk[at] === 1 ? 'stderr' : 'stdout';
      lines.push({
        stream,
        line: this.chunk.toString('utf8', at + HEADER_BYTES, at + HEADER_BYTES + length),
      });
      at += HEADER_BYTES + length;
      bytes += length;
      this.lineCount--;
    }
    this.chunk = this.chunk.subarray(at);
    if (this.lineCount === 0) this.reuse();
    return lines;
  }

  /** Closes the file (its space is freed: it was unlinked when made). */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.gathered = Buffer.alloc(0);
    this.gatheredBytes = 0;
    this.chunk = Buffer.alloc(0);
    this.lineCount = 0;
    this.written = this.read = 0;
  }

  private file(): number {
    if (this.fd === null) {
      const dir = mkdtempSync(join(this.dir, 'jobstream-spool-'));
      const path = join(dir, 'lines');
      this.fd = openSync(path, 'w+', 0o600);
      rmSync(dir, { recursive: true }); // unlinked: the descriptor keeps the file until closed
    }
    return this.fd;
  }

  private writeGathered(): void {
    if (this.gatheredBytes === 0) return;
    let offset = 0;
    while (offset < this.gatheredBytes)
      offset += writeSync(
        this.file(),
        this.gathered,
        offset,
        this.gatheredBytes - offset,
        this.written + offset,
      );
    this.written += this.gatheredBytes;
    this.gatheredBytes = 0;
    // A record larger than the usual buffer got a buffer of its own: go back to the usual size.
    if (this.gathered.length > WRITE_GATHER_BYTES) this.gathered = Buffer.alloc(0);
  }

  /** Appends the next bytes to `chunk`: from the file, or (all of it read) what is gathered. */
  private readMore(): void {
    if (this.read === this.written) this.writeGathered();
    const want = Math.min(READ_CHUNK_BYTES, this.written - this.read);
    if (want <= 0) throw new Error('the spool lost track of its lines'); // a bug, never a data case
    const buffer = Buffer.allocUnsafe(this.chunk.length + want);
    this.chunk.copy(buffer);
    let got = 0;
    while (got < want) {
      const n = readSync(this.file(), buffer, this.chunk.length + got, want - got, this.read + got);
      if (n === 0) throw new Error('the spool file ended early');
      got += n;
    }
    this.read += want;
    this.chunk = buffer;
  }

  /** Everything was taken: start the file over. */
  private reuse(): void {
    this.gatheredBytes = 0;
    this.chunk = Buffer.alloc(0);
    if (this.fd !== null && this.written > 0) ftruncateSync(this.fd, 0);
    this.written = this.read = 0;
  }
}
