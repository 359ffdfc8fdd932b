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
