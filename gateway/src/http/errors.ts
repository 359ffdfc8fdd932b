/**
 * HTTP errors in one place: the `{"error":{"code","message"}}` body, the status for each code,
 * query validation that answers `bad_request`, and the error-handling middleware.
 */
import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import type { ErrorCode } from '../../../shared/protocol.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { ArchiveUnavailableError } from '../archive/errors.js';

/** Seconds a client waits before asking again for archived lines that could not be read. */
const ARCHIVE_RETRY_AFTER_S = 5;

/** The HTTP status of each error code (docs/protocol.md "HTTP API"). */
const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_many_subscriptions: 429,
  rate_limited: 429,
  unavailable: 503,
  too_large: 413,
  seq_mismatch: 409,
  job_finished: 409,
  session_expired: 401,
  not_implemented: 501,
};

/** Thrown by a route: answered with its code's status and the message as it is. */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds after which the same request may succeed (sent as `Retry-After`). */
    readonly retryAfterS?: number,
    /** Facts the caller acts on, sent beside `code` and `message` (and at the top level): `lastSeq`. */
    readonly details?: Record<string, number>,
  ) {
    super(message);
  }
}

/** A query parameter given empty (`?status=&limit=`) counts as not given. */
function withoutEmpty(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== ''));
}

/**
 * A whole number given as text (a query parameter, a header): digits only. `Number()` alone would
 * read `0x10` as 16, `1e3` as 1000 and ` 5` as 5, so a typo would silently ask for other lines.
 */
export function wholeNumber({ min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  return z
    .string()
    .regex(/^\d+$/, 'expected a whole number (digits only)')
    .transform(Number)
    .pipe(z.number().min(min).max(max));
}

/** Validates a request part; a failure is `bad_request` naming the parameter (or `name`, for a lone value such as a header). */
export function parse<T>(schema: z.ZodType<T>, value: unknown, name = 'request'): T {
  const result = schema.safeParse(withoutEmpty(value));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : name;
  throw new HttpError('bad_request', `${where}: ${issue?.message ?? 'invalid'}`);
}

/** `parse` for a query string, where a parameter given twice (`?since=1&since=2`) is said to be so. */
export function parseQuery<T>(schema: z.ZodType<T>, query: Record<string, unknown>): T {
  const repeated = Object.entries(query).find(([, v]) => Array.isArray(v));
  if (repeated) throw new HttpError('bad_request', `${repeated[0]}: given more than once`);
  return parse(schema, query);
}

/**
 * Errors express and its middleware raise for a bad request (a malformed percent-encoding in the
 * path, say) carry a 4xx `status`: the client's fault, answered 400 without a stack trace.
 */
function clientError(err: unknown): HttpError | null {
  if (typeof err !== 'object' || err === null) return null;
  const status =
    (err as { status?: unknown; statusCode?: unknown }).status ??
    (err as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return null;
  if (err instanceof URIError)
    return new HttpError('bad_request', 'malformed percent-encoding in the address');
  if (status === 413)
    return new HttpError('too_large', 'the request body is over 1 MiB; send smaller batches');
  return new HttpError('bad_request', err instanceof Error ? err.message : 'bad request');
}

/** The last middleware: known errors as they are, anything else 503 `unavailable` (and logged). */
export function errorHandler(logger: Logger, metrics: GatewayMetrics) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    const known =
      err instanceof HttpError
        ? err
        : err instanceof ArchiveUnavailableError
          ? new HttpError('unavailable', err.message, ARCHIVE_RETRY_AFTER_S)
          : clientError(err);
    if (!known) logger.error({ err }, 'request failed');
    const code: ErrorCode = known?.code ?? 'unavailable';
    metrics.rejections.inc({ reason: code });
    if (known?.retryAfterS !== undefined) res.setHeader('Retry-After', String(known.retryAfterS));
    const message = known?.message ?? 'the request could not be served';
    const details = known?.details ?? {};
    res.status(STATUS_OF[code]).json({ error: { code, message, ...details }, ...details });
  };
}
