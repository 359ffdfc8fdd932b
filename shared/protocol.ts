/**
 * Wire protocol `jobstream.v1` (docs/protocol.md): the frames as discriminated unions, and every error
 * and close code in one place. Types only (no validation library), so the gateway, the browser
 * client and the load tester all share it; the gateway validates client frames against these
 * types in gateway/src/stream/client-frames.ts.
 */
import type { Job, JobStatus } from './job.js';

export const PROTOCOL = 'jobstream.v1';
/** Browsers carry their token as a second offered subprotocol: `bearer.<jwt>`. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

export type OutputStream = 'stdout' | 'stderr';

/** The `role` claim of a token: a user sees its own jobs, an admin every job. */
/** user: its own jobs; admin: every job; runner: creates jobs for any owner and reads nothing. */
export const ROLES = ['user', 'admin', 'runner'] as const;
export type Role = (typeof ROLES)[number];

/** One entry of `job:{J}:output`, and one line of an `output` frame. */
export interface OutputLine {
  seq: number;
  ts: number;
  stream: OutputStream;
  line: string;
}

// ---- client → server -------------------------------------------------------------------------
// (validated at the gateway's edge by gateway/src/stream/client-frames.ts, which the browser never loads)

export interface SubscribeFrame {
  type: 'subscribe';
  jobId: string;
  /** Only lines with seq > since. At most one of since and tail. */
  since?: number;
  /** Only the last `tail` lines (0: only new ones). */
  tail?: number;
}
export interface UnsubscribeFrame {
  type: 'unsubscribe';
  jobId: string;
}
export interface WatchFrame {
  type: 'watch' | 'unwatch';
  topic: 'jobs';
}
export interface AuthFrame {
  type: 'auth';
  token: string;
}
export interface PingFrame {
  type: 'ping';
  id?: number | string;
}
export type ClientFrame = SubscribeFrame | UnsubscribeFrame | WatchFrame | AuthFrame | PingFrame;

// ---- server → client -------------------------------------------------------------------------

export interface HelloFrame {
  type: 'hello';
  protocol: typeof PROTOCOL;
  heartbeatMs: number;
  limits: {
    maxSubscriptions: number;
    maxFrameBytes: number;
    /** Sustained client frames a second past the burst. */
    framesPerSecond: number;
    /** Frames a client may send at once (at least maxSubscriptions + 20). */
    burstFrames: number;
  };
}
export interface StatusFrame {
  type: 'status';
  jobId: string;
  job: Job;
}
export interface OutputFrame {
  type: 'output';
  jobId: string;
  lines: OutputLine[];
}
export type GapReason = 'trimmed' | 'lagged';
export interface GapFrame {
  type: 'gap';
  jobId: string;
  fromSeq: number;
  toSeq: number;
  reason: GapReason;
}
/** The gateway may have missed feed changes (its Redis subscriber reconnected): list jobs again. */
export interface FeedGapFrame {
  type: 'gap';
  topic: 'jobs';
  reason: 'lagged';
}
/** The answer to `watch`: every later change of a visible job will reach the client. */
export interface WatchingFrame {
  type: 'watching';
  topic: 'jobs';
}
export interface DoneFrame {
  type: 'done';
  jobId: string;
  status: JobStatus;
  lastSeq: number;
}
/**
 * The text of a line still being written (a `\r` progress bar, a prompt without a newline):
 * shown as the pending last line, never stored. Live subscriptions only; a client ignores one
 * whose `afterSeq` is below the last seq it holds, and drops it when the next `output` arrives.
 */
export interface ProgressFrame {
  type: 'progress';
  jobId: string;
  afterSeq: number;
  stream: OutputStream;
  line: string;
}
export interface JobFrame {
  type: 'job';
  job: Job;
}
export interface ErrorFrame {
  type: 'error';
  /** The job of the refused frame (every refused `subscribe` names its job). */
  jobId?: string;
  code: ErrorCode;
  message: string;
  /** With `rate_limited`: when the frame would be accepted. */
  retryAfterMs?: number;
}
export interface PongFrame {
  type: 'pong';
  id?: number | string;
}
export type ServerFrame =
  | HelloFrame
  | StatusFrame
  | OutputFrame
  | GapFrame
  | FeedGapFrame
  | DoneFrame
  | ProgressFrame
  | WatchingFrame
  | JobFrame
  | ErrorFrame
  | PongFrame;

// ---- codes -----------------------------------------------------------------------------------

/**
 * `code` of `error` frames (WebSocket) and of `{"error":{…}}` bodies (HTTP). A job of someone
 * else is `not_found`, exactly like a missing one (existence is never revealed); `forbidden` is
 * only the answer to an upgrade from an origin that is not allowed (HTTP 403).
 */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'too_many_subscriptions',
  'rate_limited',
  'unavailable',
  'too_large',
  'seq_mismatch',
  'job_finished',
  'session_expired',
  'not_implemented',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * WebSocket close codes, grouped by what a client should do next. Reconnect-and-resume codes
 * are the ones where the server went away; the others need the client to change something.
 */
export const CLOSE_CODES = {
  /** Shutting down or restarting: reconnect (with backoff) and resume with `since`. */
  serviceRestart: 1012,
  /** Flooding persisted after `rate_limited` (policy violation): reconnect only after a long backoff. */
  policyViolation: 1008,
  /** A client frame over `maxFrameBytes`. */
  messageTooBig: 1009,
  /** A text frame that is not valid UTF-8 (RFC 6455; `ws` closes with it before we see the frame). */
  invalidPayload: 1007,
  /** The token expired and no `auth` frame replaced it: get a new token, then reconnect. */
  tokenExpired: 4001,
  /** The client closed on purpose (signed out, left the page). */
  normal: 1000,
  /** Never sent: what a browser reports when the connection dropped without a close frame. */
  abnormal: 1006,
  /** Sent by the browser client when its `ping` went unanswered for a whole interval. */
  noPong: 4000,
} as const;
