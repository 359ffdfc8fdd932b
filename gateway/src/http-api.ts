/**
 * The HTTP side (DESIGN.md "HTTP API"): probes and metrics without a token; the job API with
 * `Authorization: Bearer` and the owner rule (a job of someone else is a 404, like a missing
 * one); the built dashboard at `/`. Every parameter is validated; errors are
 * `{"error":{"code","message"}}`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { JOB_STATUSES, type Job } from '../../shared/job.js';
import { jobIdSchema } from './client-frames.js';
import { ROLES, type ErrorCode, type OutputLine } from '../../shared/protocol.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { loadedLibrary, LIBRARY_VERSION } from '../../shared/redis/library.js';
import { DEMO_USERS } from '../../shared/demo.js';
import { signToken } from '../../shared/tokens.js';
import { AuthError, bearerToken, maySee, verifyToken, type Principal } from './auth.js';
import type { GatewayConfig } from './config.js';
import { listJobs } from './job-list.js';
import { joinEntries } from './output-frames.js';
import { TokenBucket } from './limits.js';
import type { Logger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';
import { readJobState, readOutput } from './store.js';
import { notFoundMessage } from './frames.js';
import { withDeadline } from './redis-connections.js';
import { JobstreamError } from '../../shared/errors.js';
import { requestCancel } from '../../shared/redis/functions.js';

export interface HttpApiDeps {
  config: GatewayConfig;
  redis: RedisConnection;
  metrics: GatewayMetrics;
  logger: Logger;
  /** For dev sign-in tokens; only set when DEV_AUTH is on and the secret is known. */
  devSecret: string | null;
  /** Why this process should get no traffic now (shutting down, Redis deaf, library lost), or null. */
  notReadyReason: () => string | null;
}

const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 404,
  not_found: 404,
  conflict: 409,
  too_many_subscriptions: 429,
  rate_limited: 429,
  unavailable: 503,
};

class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const listQuery = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().max(200).optional(),
});
const outputQuery = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});
const devTokenQuery = z.object({
  sub: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  role: z.enum(ROLES).default('user'),
});

/** A query parameter given empty (`?status=&limit=`) counts as not given. */
function withoutEmpty(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== ''));
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(withoutEmpty(value));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new HttpError('bad_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`);
}

type Authed = Request & { principal?: Principal };

export function createHttpApi(deps: HttpApiDeps): express.Express {
  const { config, redis, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      const notReady = deps.notReadyReason();
      if (notReady) throw new Error(notReady);
      const library = await withDeadline(loadedLibrary(redis), config.redisDeadlineMs, 'readyz');
      if (!library || library.version < LIBRARY_VERSION)
        throw new Error('the jobstream function library is not loaded');
      res.json({ status: 'ready', library });
    } catch (error) {
      res.status(503).json({ error: { code: 'unavailable', message: (error as Error).message } });
    }
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // Per-user request budget: generous for a dashboard, a wall against a runaway script.
  const buckets = new Map<string, TokenBucket>();
  const authenticate =
    (allowQueryToken: boolean) =>
    (req: Authed, _res: Response, next: NextFunction): void => {
      const fromQuery =
        allowQueryToken && typeof req.query.access_token === 'string' ? req.query.access_token : null;
      const token = bearerToken(req.headers.authorization) ?? fromQuery;
      if (!token) return next(new HttpError('unauthorized', 'Authorization: Bearer <token> is required'));
      try {
        req.principal = verifyToken(token, config.jwt);
      } catch (error) {
        return next(
          new HttpError('unauthorized', error instanceof AuthError ? error.message : 'invalid token'),
        );
      }
      if (buckets.size > 10_000) buckets.clear();
      let bucket = buckets.get(req.principal.sub);
      if (!bucket) buckets.set(req.principal.sub, (bucket = new TokenBucket(50, 200)));
      if (!bucket.take()) return next(new HttpError('rate_limited', 'too many requests; slow down'));
      next();
    };

  async function visibleJob(req: Authed): Promise<Job> {
    const id = parse(jobIdSchema, req.params.id);
    const state = await readJobState(redis, id);
    if (!state || !maySee(req.principal!, state.job.owner))
      throw new HttpError('not_found', notFoundMessage(id));
    return state.job;
  }

  app.get('/api/jobs', authenticate(false), async (req: Authed, res) => {
    const query = parse(listQuery, req.query);
    try {
      res.json(await listJobs(redis, req.principal!, query));
    } catch (error) {
      if (error instanceof RangeError) throw new HttpError('bad_request', error.message);
      throw error;
    }
  });

  app.get('/api/jobs/:id', authenticate(false), async (req: Authed, res) => {
    res.json(await visibleJob(req));
  });

  app.get('/api/jobs/:id/output', authenticate(false), async (req: Authed, res) => {
    const job = await visibleJob(req);
    const { since, limit } = parse(outputQuery, req.query);
    const page = await readOutput(redis, job.id, since + 1, limit);
    // Stored entries are already JSON: joined, not re-encoded.
    res
      .type('application/json')
      .send(
        Buffer.concat([
          Buffer.from('{"lines":['),
          joinEntries(page.entries),
          Buffer.from(`],"lastSeq":${page.lastSeq}}`),
        ]),
      );
  });

  app.post('/api/jobs/:id/cancel', authenticate(false), async (req: Authed, res) => {
    const job = await visibleJob(req);
    try {
      await requestCancel(redis, job.id, req.principal!.sub);
    } catch (error) {
      const code = JobstreamError.fromRedis(error)?.code;
      if (code === 'JOB_FINISHED') throw new HttpError('conflict', `job ${job.id} has already ended`);
      if (code === 'NOT_FOUND') throw new HttpError('not_found', notFoundMessage(job.id));
      throw error;
    }
    const state = await readJobState(redis, job.id);
    if (!state) throw new HttpError('not_found', notFoundMessage(job.id));
    res.status(202).json(state.job);
  });

  app.get('/api/jobs/:id/output.txt', authenticate(true), async (req: Authed, res) => {
    const job = await visibleJob(req);
    res.type('text/plain; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${job.id}.txt"`);
    res.setHeader('Cache-Control', 'no-store');
    let seq = 1;
    for (;;) {
      const page = await readOutput(redis, job.id, seq, 1000, { toSeq: job.lastSeq });
      if (page.entries.length === 0) break;
      const text =
        page.entries.map((entry) => (JSON.parse(entry.toString('utf8')) as OutputLine).line).join('\n') +
        '\n';
      if (!res.write(text)) await new Promise((resolve) => res.once('drain', resolve));
      if (res.destroyed) return;
      seq = page.fromSeq + page.entries.length;
    }
    res.end();
  });

  app.get('/api/dev', (_req, res) => {
    if (!config.devAuth || !deps.devSecret)
      throw new HttpError('not_found', 'dev sign-in is off (set DEV_AUTH)');
    res.json({
      devAuth: true,
      users: DEMO_USERS.map(({ sub, role }) => ({ sub, role })),
    });
  });

  app.get('/api/dev/token', (req, res) => {
    if (!config.devAuth || !deps.devSecret)
      throw new HttpError('not_found', 'dev sign-in is off (set DEV_AUTH)');
    const { sub, role } = parse(devTokenQuery, req.query);
    res.json({ token: signToken(deps.devSecret, { sub, role }, 3600) });
  });

  app.use('/api', (_req, _res, next) => next(new HttpError('not_found', 'no such API route')));

  if (config.staticDir && existsSync(join(config.staticDir, 'index.html'))) {
    const staticDir = config.staticDir;
    app.use(express.static(staticDir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheHtml }));
    // Dashboard addresses are client-side routes: serve the app for them.
    app.get(['/jobs/{*path}', '/watch', '/wall', '/signin'], (_req, res) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(join(staticDir, 'index.html'));
    });
  }

  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const known = err instanceof HttpError ? err : clientError(err);
    if (!known) deps.logger.error({ err }, 'request failed');
    const code: ErrorCode = known?.code ?? 'unavailable';
    metrics.rejections.inc({ reason: code });
    res
      .status(STATUS_OF[code])
      .json({ error: { code, message: known?.message ?? 'the request could not be served' } });
  });
  return app;
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
  return new HttpError('bad_request', err instanceof Error ? err.message : 'bad request');
}

function noCacheHtml(res: Response, path: string): void {
  if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
}
