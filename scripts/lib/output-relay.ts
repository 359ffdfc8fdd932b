/**
 * What jobrun does with the command's bytes: shows them on its own terminal as they are, cuts
 * them into lines for the job (line-splitter.ts: `\r` redraws leave their final text), and every
 * PROGRESS_INTERVAL_MS publishes the line still being written, when it changed (docs/runners.md:
 * `jobstream_progress`), so a `\r` progress bar or a prompt is live on the dashboard.
 */
import type { Readable } from 'node:stream';
import { LineSplitter } from '../../shared/runner/line-splitter.js';
import type { OutputStream } from '../../shared/protocol.js';
import type { LinePublisher } from '../../shared/runner/line-publisher.js';

/** At most this often a line still being written is published (docs/runners.md). */
export const PROGRESS_INTERVAL_MS = 250;

interface RelayedStream {
  name: OutputStream;
  splitter: LineSplitter;
  /** The open line's text as last published (null: none published since the last line ended). */
  shown: string | null;
}

export class OutputRelay {
  private readonly streams: RelayedStream[] = [];
  private readonly ticker: NodeJS.Timeout;

  constructor(private readonly publisher: LinePublisher) {
    this.ticker = setInterval(() => this.publishOpenLines(), PROGRESS_INTERVAL_MS);
  }

  /** Relays `from` as `name`, echoing its bytes to `echo` (this terminal). */
  add(name: OutputStream, from: Readable, echo: NodeJS.WritableStream): void {
    const stream: RelayedStream = {
      name,
      shown: null,
      splitter: new LineSplitter((line) => {
        stream.shown = null;
        this.publisher.write(name, line);
      }),
    };
    this.streams.push(stream);
    // Never paused: a command is never slowed for the log store (the publisher spools instead).
    from.on('data', (chunk: Buffer) => {
      stream.splitter.write(chunk);
      echo.write(chunk);
    });
  }

  /** The command ended and its output was read: emit the last lines, stop publishing progress. */
  end(): void {
    clearInterval(this.ticker);
    for (const stream of this.streams) stream.splitter.end();
  }

  private publishOpenLines(): void {
    for (const stream of this.streams) {
      const text = stream.splitter.openLine();
      if (text === null || text === stream.shown) continue;
      stream.shown = text;
      this.publisher.progress(stream.name, text);
    }
  }
}
