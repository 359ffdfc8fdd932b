/**
 * Errors with stable codes. The Redis function library answers errors whose first word is the
 * code (see shared/redis/lua/1-common.lua); `JobstreamError.fromRedis` turns such a reply into a
 * typed error so callers switch on `.code`, never on message text.
 */
export const FUNCTION_ERROR_CODES = [
  'BAD_ARGUMENTS',
  'BAD_JOB_ID',
  'NOT_FOUND',
  'JOB_EXISTS',
  'JOB_FINISHED',
  'BAD_STREAM',
  'BAD_STATUS',
  'BAD_TRANSITION',
  'PROTECTED_FIELD',
  'BAD_FIELD',
  'FIELD_TOO_LARGE',
  'SEQ_MISMATCH',
  'NOT_CLAIMED',
  'NOT_CONTIGUOUS',
] as const;
export type FunctionErrorCode = (typeof FUNCTION_ERROR_CODES)[number];

export class JobstreamError extends Error {
  override readonly name = 'JobstreamError';
  constructor(
    readonly code: FunctionErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The typed error for a function library reply, or null when `error` is something else. */
  static fromRedis(error: unknown): JobstreamError | null {
    if (error instanceof JobstreamError) return error;
    if (!(error instanceof Error)) return null;
    const [first, ...rest] = error.message.split(' ');
    const code = FUNCTION_ERROR_CODES.find((c) => c === first);
    return code === undefined ? null : new JobstreamError(code, rest.join(' '));
  }
}

/** Rethrows a function library error as a JobstreamError, anything else unchanged. */
export function rethrowTyped(error: unknown): never {
  throw JobstreamError.fromRedis(error) ?? error;
}
