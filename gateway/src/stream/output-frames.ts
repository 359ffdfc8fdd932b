/**
 * Reading and building `output` frames without decoding them. The function library publishes
 * frames in a fixed form, `{"type":"output","jobId":"J","lines":[{"seq":N,"ts":T,…},…]}`, with
 * consecutive seqs, so the first and last seq (and the last ts) can be read off the bytes: the
 * hot path never runs JSON.parse per socket, nor even once per frame.
 */
import { isJobStatus, type JobStatus } from '../../../shared/job.js';
import type { OutputLine } from '../../../shared/protocol.js';
import { encodeFrame } from './frames.js';
import type { PreparedFrame } from './ws-internals.js';

const SEQ_MARK = Buffer.from('{"seq":');
const TS_MARK = Buffer.from('"ts":');
const OUTPUT_PREFIX = Buffer.from('{"type":"output"');
const STATUS_PREFIX = Buffer.from('{"type":"status"');
const PROGRESS_PREFIX = Buffer.from('{"type":"progress"');
const AFTER_SEQ_MARK = '"afterSeq":';

export interface OutputMessage {
  kind: 'output';
  firstSeq: number;
  lastSeq: number;
  /** Redis time of the batch, for the publish→send lag metric. */
  ts: number;
  bytes: Buffer;
  /** The WebSocket frame of `bytes`, made once for every watcher (ws-internals.ts). */
  frame?: PreparedFrame | null;
}

export interface StatusMessage {
  kind: 'status';
  bytes: Buffer;
  status: JobStatus;
  lastSeq: number;
  frame?: PreparedFrame | null;
}

/** A `progress` frame: the text of a line still being written, for live watchers only. */
export interface ProgressMessage {
  kind: 'progress';
  /** The job's seq when it was published: it follows that line. */
  afterSeq: number;
  bytes: Buffer;
  frame?: PreparedFrame | null;
}

export type ChannelMessage = OutputMessage | StatusMessage | ProgressMessage;

function readInt(buffer: Buffer, at: number): number {
  let value = 0;
  let i = at;
  for (; i < buffer.length; i++) {
    const c = buffer[i]!;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  return i === at ? NaN : value;
}

/** Whether `bytes`, after a `{"type":…` prefix of `at` bytes, name `jobId` as the library writes it. */
function namesJob(bytes: Buffer, at: number, jobId: string): boolean {
  const expected = `,"jobId":"${jobId}",`; // ids are ASCII ([A-Za-z0-9._-])
  return bytes.toString('latin1', at, at + expected.length) === expected;
}

/**
 * Classifies a message of `job:{J}:events` for job `jobId`, or null for anything we did not
 * publish, including a frame naming another job (a writer going around the library): it is never
 * delivered to this job's watchers.
 */
export function readChannelMessage(bytes: Buffer, jobId: string): ChannelMessage | null {
  if (bytes.subarray(0, OUTPUT_PREFIX.length).equals(OUTPUT_PREFIX)) {
    if (!namesJob(bytes, OUTPUT_PREFIX.length, jobId)) return null;
    const first = bytes.indexOf(SEQ_MARK);
    // Inside a JSON string a quote is escaped, so `{"seq":` only ever starts an entry.
    const last = bytes.lastIndexOf(SEQ_MARK);
    if (first < 0) return null;
    const firstSeq = readInt(bytes, first + SEQ_MARK.length);
    const lastSeq = readInt(bytes, last + SEQ_MARK.length);
    const tsAt = bytes.indexOf(TS_MARK, last);
    const ts = tsAt < 0 ? NaN : readInt(bytes, tsAt + TS_MARK.length);
    if (!Number.isFinite(firstSeq) || !Number.isFinite(lastSeq)) return null;
    return { kind: 'output', firstSeq, lastSeq, ts, bytes };
  }
  if (bytes.subarray(0, PROGRESS_PREFIX.length).equals(PROGRESS_PREFIX)) {
    if (!namesJob(bytes, PROGRESS_PREFIX.length, jobId)) return null;
    // `{"type":"progress","jobId":"J","afterSeq":N,…`: the seq follows the job id.
    const at = PROGRESS_PREFIX.length + `,"jobId":"${jobId}",`.length;
    if (bytes.toString('latin1', at, at + AFTER_SEQ_MARK.length) !== AFTER_SEQ_MARK) return null;
    const afterSeq = readInt(bytes, at + AFTER_SEQ_MARK.length);
    return Number.isFinite(afterSeq) ? { kind: 'progress', afterSeq, bytes } : null;
  }
  if (bytes.subarray(0, STATUS_PREFIX.length).equals(STATUS_PREFIX)) {
    if (!namesJob(bytes, STATUS_PREFIX.length, jobId)) return null;
    try {
      const frame = JSON.parse(bytes.toString('utf8')) as { job?: { status?: unknown; lastSeq?: unknown } };
      const status = frame.job?.status;
      const lastSeq = frame.job?.lastSeq;
      if (typeof status !== 'string' || !isJobStatus(status) || typeof lastSeq !== 'number') return null;
      return { kind: 'status', bytes, status, lastSeq };
    } catch {
      return null;
    }
  }
  return null;
}

const COMMA = Buffer.from(',');

/** Stored list entries (JSON bytes) joined into a JSON array's body, without decoding them. */
export function joinEntries(entries: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(entry);
  });
  return Buffer.concat(parts);
}

/** An `output` frame from stored list entries, joined without re-encoding. */
export function outputFrameFromEntries(jobId: string, entries: readonly Buffer[]): Buffer {
  return Buffer.concat([
    Buffer.from(`{"type":"output","jobId":"${jobId}","lines":[`),
    joinEntries(entries),
    Buffer.from(']}'),
  ]);
}

/** The part of a published output frame from `fromSeq` on (for the replay→live overlap). */
export function sliceOutputFrame(jobId: string, message: OutputMessage, fromSeq: number): string {
  const frame = JSON.parse(message.bytes.toString('utf8')) as { lines: OutputLine[] };
  return encodeFrame({ type: 'output', jobId, lines: frame.lines.filter((l) => l.seq >= fromSeq) });
}
