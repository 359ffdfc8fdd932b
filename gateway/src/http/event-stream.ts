/**
 * A subscription over HTTP (docs/protocol.md "Streams over HTTP"): the same Subscription as a
 * WebSocket's — the same fan-out, the same lossless replay→live switch, the same bounded buffer —
 * written to an HTTP response instead of a socket, in one of two forms:
 * - `sse` (`GET /api/jobs/:id/stream`): Server-Sent Events in the first dashboard's form,
 *   `status`, `output` (one event per line, `id: <seq>`), `gap`, `progress`, `done`, `error`;
 * - `text` (`GET /api/jobs/:id/output.txt?follow=1`): the lines as text, until the job ends.
 * The response ends after `done`; when the stream cannot go on (`unavailable`, the job vanished)
 * an SSE client gets an `error` event, and a text one a response aborted without its last chunk,
 * so it sees an error, not an end.
 */
import type { Response } from 'express';
import type { ErrorFrame, OutputLine, ServerFrame } from '../../../shared/protocol.js';
import type { Principal } from '../auth/principal.js';
import { SEND_HIGH_WATER_BYTES } from '../limits.js';
import type { ChannelMessage } from '../stream/output-frames.js';
import type { SubscriberSocket } from '../stream/subscriber-socket.js';
import type { Subscription } from '../stream/subscription.js';

export type StreamForm = 'sse' | 'text';

/** A `: keep-alive` comment this often, so proxies and clients see a quiet stream is alive. */
export const KEEP_ALIVE_MS = 15_000;
/** What an EventSource waits before reconnecting (sent once, as `retry:`). */
const RETRY_MS = 3000;

export class ResponseSocket implements SubscriberSocket {
  private readonly keepAlive: NodeJS.Timeout | null;
  private ended = false;
  private subscription: Subscription | null = null;

  constructor(
    private readonly res: Response,
    readonly principal: Principal,
    private readonly form: StreamForm,
    private readonly text: (line: string) => string,
    onClose: () => void,
  ) {
    if (form === 'sse') {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        'X-Accel-Buffering': 'no',
        Connection: 'keep-alive',
      });
      res.write(`retry: ${RETRY_MS}\n\n`);
      this.keepAlive = setInterval(() => this.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      this.keepAlive.unref();
    } else {
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        'X-Accel-Buffering': 'no',
      });
      // Answer now, not with the first line: a job may be quiet (or queued) for minutes, and a
      // client (curl -N, a proxy) should know meanwhile that it is connected and following.
      res.flushHeaders();
      this.keepAlive = null;
    }
    res.once('close', () => {
      this.ended = true;
      if (this.keepAlive) clearInterval(this.keepAlive);
      this.subscription?.stop();
      onClose();
    });
  }

  attach(subscription: Subscription): void {
    this.subscription = subscription;
  }

  get bufferedAmount(): number {
    return this.res.writableLength;
  }

  send(data: string | Buffer): void {
    this.frame(JSON.parse(data.toString()) as ServerFrame);
  }

  sendFrame(frame: ServerFrame): void {
    this.frame(frame);
  }

  sendPublished(message: ChannelMessage): void {
    this.frame(JSON.parse(message.bytes.toString('utf8')) as ServerFrame);
  }

  drained(): Promise<void> {
    if (this.ended || this.res.writableLength <= SEND_HIGH_WATER_BYTES / 2) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  subscriptionEnded(): void {
    this.finish();
  }

  /**
   * The gateway is shutting down: an SSE stream ends (its EventSource reconnects, to another
   * gateway, and resumes by Last-Event-ID); a followed text response is aborted, so its reader
   * sees an error rather than a finished log.
   */
  shutdown(): void {
    this.subscription?.stop();
    if (this.form === 'sse') this.finish();
    else this.abort();
  }

  /** Ends the stream with an error the subscription could not send itself (set-up failed). */
  fail(frame: ErrorFrame): void {
    this.frame(frame);
    this.finish();
  }

  private frame(frame: ServerFrame): void {
    if (this.ended) return;
    if (this.form === 'text') return this.textFrame(frame);
    switch (frame.type) {
      case 'status':
        return this.event('status', frame.job);
      case 'output':
        return this.write(frame.lines.map((line) => outputEvent(line)).join(''));
      case 'gap':
        if ('fromSeq' in frame)
          this.event('gap', { fromSeq: frame.fromSeq, toSeq: frame.toSeq, reason: frame.reason });
        return;
      case 'progress':
        return this.event('progress', frame);
      case 'done':
        return this.event('done', { status: frame.status, lastSeq: frame.lastSeq });
      case 'error':
        return this.event('error', { code: frame.code, message: frame.message });
      default:
        return;
    }
  }

  private textFrame(frame: ServerFrame): void {
    if (frame.type === 'output') this.write(frame.lines.map((l) => `${this.text(l.line)}\n`).join(''));
    // Anything but the end: the response is aborted without its last chunk, so a client that
    // follows sees an error, not a finished log.
    if (frame.type === 'error') this.abort();
  }

  private event(name: string, data: unknown): void {
    this.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(chunk: string): void {
    if (!this.ended) this.res.write(chunk);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.res.end();
  }

  private abort(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.res.destroy();
  }
}

/** One `output` event: `id` is the seq, so a reconnecting EventSource resumes by Last-Event-ID. */
function outputEvent(line: OutputLine): string {
  const data = JSON.stringify({ seq: line.seq, timestamp: line.ts, stream: line.stream, line: line.line });
  return `id: ${line.seq}\nevent: output\ndata: ${data}\n\n`;
}
