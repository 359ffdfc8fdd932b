/**
 * Validation of everything a client sends, at the gateway's edge: the zod schemas for client
 * frames and job ids. They live here, not in shared/, so the browser bundle never carries the
 * validation library; the session hands every parsed frame on as the protocol's `ClientFrame`,
 * so a schema that drifted from the type fails to compile.
 */
import { z } from 'zod';
import { JOB_ID_PATTERN } from '../../../shared/job.js';
import type { ClientFrame } from '../../../shared/protocol.js';

export const jobIdSchema = z.string().regex(JOB_ID_PATTERN, 'job ids match [A-Za-z0-9._-]{1,128}');

const seqNumber = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const clientFrameSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('subscribe'),
      jobId: jobIdSchema,
      since: seqNumber.optional(),
      tail: seqNumber.optional(),
    })
    .refine((frame) => frame.since === undefined || frame.tail === undefined, {
      message: 'a subscribe names at most one of since and tail',
    }),
  z.object({ type: z.literal('unsubscribe'), jobId: jobIdSchema }),
  z.object({ type: z.literal('watch'), topic: z.literal('jobs') }),
  z.object({ type: z.literal('unwatch'), topic: z.literal('jobs') }),
  z.object({ type: z.literal('auth'), token: z.string().min(1).max(16_384) }),
  z.object({ type: z.literal('ping'), id: z.union([z.number(), z.string().max(256)]).optional() }),
]);

/** A client frame read from its text: the frame, or what is wrong with it (naming its job if it has one). */
export function readClientFrame(text: string): { frame: ClientFrame } | { problem: string; jobId?: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: 'a frame is one JSON object' };
  }
  const parsed = clientFrameSchema.safeParse(json);
  if (parsed.success) return { frame: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  const problem = `${where}${issue?.message ?? 'invalid frame'}`;
  const jobId = (json as { jobId?: unknown } | null)?.jobId;
  return typeof jobId === 'string' && JOB_ID_PATTERN.test(jobId) ? { problem, jobId } : { problem };
}
