/**
 * The HTTP side of a runner that writes through the gateway (docs/runners.md "Over HTTP"): one
 * request with retries. A network error, a 5xx or a 429 is retried with backoff (a 429 or 503
 * after its `Retry-After`), through a gateway restart or a load balancer moving the runner to
 * another gateway; any other answer is returned for the caller to act on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type Backoff } from '../backoff.js';
import { httpRequest } from './http-request.js';

export interface IngestAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** How long one request may take before it counts as failed (and is retried). */
const REQUEST_TIMEOUT_MS = 30_000;

export class IngestClient {
  constructor(
    private readonly baseUrl: string,
    /** The bearer token: a sign-in token to create the job, then its job token. */
    public token: string,
    private readonly backoff: Backoff,
    /** A failure being retried through (for logs). */
    private readonly onRetry: (error: Error) => void,
    /** Give up after this long of failures (creation only: a running job retries for ever). */
    private readonly giveUpAfterMs = Number.POSITIVE_INFINITY,
  ) {}

  async post(path: string, body: unknown): Promise<IngestAnswer> {
    const started = Date.now();
    let lastFailure = '';
    for (let attempt = 0; ; attempt++) {
      let waitMs = backoffDelay(this.backoff, attempt);
      try {
        const res = await httpRequest(`${this.baseUrl}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        const parsed = parseBody(res.text);
        if (res.status < 500 && res.status !== 429) return { status: res.status, body: parsed };
        if (res.retryAfterS !== null && res.retryAfterS > 0)
          waitMs = Math.max(waitMs, res.retryAfterS * 1000);
        const failure = new Error(`${path}: HTTP ${res.status} ${errorMessage(parsed) ?? ''}`.trim());
        lastFailure = failure.message;
        this.onRetry(failure);
      } catch (error) {
        const failure = asError(error);
        lastFailure = failure.message;
        this.onRetry(failure);
      }
      if (Date.now() - started > this.giveUpAfterMs)
        throw new Error(
          `the gateway at ${this.baseUrl} did not answer ${path} for ${Math.round(this.giveUpAfterMs / 1000)} s (last: ${lastFailure})`,
        );
      await sleep(waitMs);
    }
  }
}

/** The error as thrown, also one from another realm (a test's VM context) that `instanceof Error` misses. */
const asError = (error: unknown): Error =>
  typeof (error as Error | null)?.message === 'string' ? (error as Error) : new Error(String(error));

function parseBody(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `{"error":{"code","message"}}` → its code and message, for errors and logs. */
export function errorCode(body: Record<string, unknown>): string | null {
  const error = body.error as { code?: unknown } | undefined;
  return typeof error?.code === 'string' ? error.code : null;
}
export function errorMessage(body: Record<string, unknown>): string | null {
  const error = body.error as { message?: unknown } | undefined;
  return typeof error?.message === 'string' ? error.message : null;
}
