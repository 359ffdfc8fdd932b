/**
 * Server frames the gateway builds itself, typed by the protocol's `ServerFrame` union. (Output
 * frames are the exception: they are forwarded or joined from the bytes Redis holds, see
 * output-frames.ts, so the hot path never re-encodes a line.)
 */
import type { ErrorCode, ErrorFrame, ServerFrame } from '../../../shared/protocol.js';

export function encodeFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

export function errorFrame(
  code: ErrorCode,
  message: string,
  jobId?: string,
  retryAfterMs?: number,
): ErrorFrame {
  const frame: ErrorFrame = { type: 'error', code, message };
  if (jobId !== undefined) frame.jobId = jobId;
  if (retryAfterMs !== undefined) frame.retryAfterMs = retryAfterMs;
  return frame;
}

/**
 * A missing job and a job of someone else get the same answer, over WebSocket and HTTP alike:
 * existence is never revealed.
 */
export const notFoundMessage = (jobId: string): string => `job ${jobId} not found`;

export function notFoundFrame(jobId: string): ErrorFrame {
  return errorFrame('not_found', notFoundMessage(jobId), jobId);
}

/** `unavailable`: Redis could not serve `what` (in time, when `timedOut`); the client may retry. */
export function unavailableFrame(
  what: string,
  timedOut: boolean,
  deadlineMs: number,
  jobId?: string,
): ErrorFrame {
  return errorFrame(
    'unavailable',
    timedOut
      ? `Redis did not confirm ${what} within ${deadlineMs} ms; try again`
      : `Redis is unavailable for ${what}; try again`,
    jobId,
  );
}
