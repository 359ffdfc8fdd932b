/**
 * The gateway's HTTP API as the CLI calls it (docs/protocol.md "HTTP API"): JSON in and out with
 * the bearer token, and every failure turned into a sentence that says what to do, with its exit
 * code (not signed in, no such job, gateway unreachable).
 */
import type { Job } from '../../client/src/index.js';
import type { Credentials } from './credentials.js';
import { CliError, EXIT } from './exit-codes.js';
import { httpRequest, type HttpAnswer } from '../../../shared/runner/http-request.js';

/** One request may take this long before the gateway counts as unreachable. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface JobList {
  jobs: Job[];
  next: number | string | null;
}

export class GatewayApi {
  constructor(readonly credentials: Pick<Credentials, 'url' | 'token'>) {}

  get url(): string {
    return this.credentials.url;
  }

  async job(id: string): Promise<Job> {
    return this.request<Job>('GET', `/api/jobs/${encodeURIComponent(id)}`, { jobId: id });
  }

  async get<T>(path: string, jobId?: string): Promise<T> {
    return this.request<T>('GET', path, { jobId });
  }

  async post<T>(path: string, jobId?: string): Promise<T> {
    return this.request<T>('POST', path, { jobId });
  }

  /** Every job matching `query`, page after page (the API's cursor), up to `limit`. */
  async jobs(query: { status?: string; q?: string }, limit: number): Promise<Job[]> {
    const jobs: Job[] = [];
    let before: string | null = null;
    do {
      const params = new URLSearchParams();
      if (query.status) params.set('status', query.status);
      if (query.q) params.set('q', query.q);
      params.set('limit', String(Math.min(100, limit - jobs.length)));
      if (before !== null) params.set('before', before);
      const page = await this.get<JobList>(`/api/jobs?${params.toString()}`);
      jobs.push(...page.jobs);
      before = page.next === null ? null : String(page.next);
    } while (before !== null && jobs.length < limit);
    return jobs;
  }

  private async request<T>(
    method: string,
    path: string,
    { jobId }: { jobId?: string | undefined },
  ): Promise<T> {
    let res: HttpAnswer;
    try {
      res = await httpRequest(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.credentials.token}` },
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
    } catch (error) {
      throw unreachable(this.url, error);
    }
    let body: unknown = null;
    try {
      body = res.text ? JSON.parse(res.text) : null;
    } catch {
      // not JSON: a proxy's page; the status says enough
    }
    if (res.status >= 200 && res.status < 300) return body as T;
    if (res.status >= 300 && res.status < 400 && res.location !== null)
      throw new CliError(
        `the gateway at ${this.url} redirects to ${new URL(res.location, `${this.url}${path}`).origin}: sign in with that address (\`jobstream login <it>\`)`,
        EXIT.unavailable,
      );
    throw httpError(this.url, res.status, body, jobId);
  }
}

function unreachable(url: string, error: unknown): CliError {
  const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : '';
  return new CliError(
    `cannot reach the gateway at ${url}${cause ? ` (${cause})` : ''}: is it running, and is the address right?`,
    EXIT.unavailable,
  );
}

/** The gateway's `{"error":{"code","message"}}` as a CliError. */
function httpError(url: string, status: number, body: unknown, jobId?: string): CliError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
  switch (status) {
    case 401:
      return new CliError(
        `the gateway at ${url} refused the token (${message}): sign in again with \`jobstream login ${url}\``,
        EXIT.notSignedIn,
      );
    case 404:
      return new CliError(
        jobId === undefined ? `not found: ${message}` : `job ${jobId} not found (or it is not yours)`,
        EXIT.notFound,
      );
    case 409:
      return new CliError(message, EXIT.failed);
    case 400:
      return new CliError(`the gateway refused the request: ${message}`, EXIT.usage);
    default:
      return status >= 500 || status === 429
        ? new CliError(`the gateway at ${url} cannot serve now (${message}); try again`, EXIT.unavailable)
        : new CliError(`the gateway answered ${status}: ${message}`, EXIT.failed);
  }
}
