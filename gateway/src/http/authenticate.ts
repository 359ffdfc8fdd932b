/**
 * Who is asking, for the job API: `Authorization: Bearer` with a sign-in token, or (on the one
 * download route) `?access_token=` with a download token, never a sign-in token in a URL. Each
 * user has a request budget. `principalOf` is the one typed way for a route to learn who asks,
 * instead of a property bolted onto Request.
 */
import type { NextFunction, Request, Response } from 'express';
import { JOB_ID_PATTERN } from '../../../shared/job.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import { AuthError, bearerToken, verifyToken, type Principal } from '../auth/principal.js';
import type { JwtConfig } from '../ops/config.js';
import { HTTP_REQUEST_RATE, TokenBucket } from '../limits.js';
import { redeemDownloadToken } from './download-tokens.js';
import { HttpError } from './errors.js';

const principals = new WeakMap<Request, Principal>();

/** Who is asking; only for routes behind `authenticate` (anything else is a programming error). */
export function principalOf(req: Request): Principal {
  const principal = principals.get(req);
  if (!principal) throw new HttpError('unauthorized', 'Authorization: Bearer <token> is required');
  return principal;
}

/** Per-user buckets, forgotten wholesale past this many users (a bound, not an LRU). */
const MAX_TRACKED_USERS = 10_000;

const NEED_BEARER = 'Authorization: Bearer <token> is required';
const BAD_DOWNLOAD_TOKEN =
  'this download link has expired or is not valid (a sign-in token is never accepted in a URL); ' +
  'ask for a new one with POST /api/jobs/:id/download-token';

export interface Authenticator {
  /** `Authorization: Bearer <sign-in token>`. */
  bearer: (req: Request, res: Response, next: NextFunction) => void;
  /** The same, or `?access_token=<download token>` for the job in the path. */
  bearerOrDownload: (req: Request, res: Response, next: NextFunction) => void;
}

export function authenticator(jwt: JwtConfig, redis: RedisConnection): Authenticator {
  const buckets = new Map<string, TokenBucket>();

  function admit(req: Request, principal: Principal, next: NextFunction): void {
    if (buckets.size > MAX_TRACKED_USERS) buckets.clear();
    let bucket = buckets.get(principal.sub);
    if (!bucket) {
      bucket = new TokenBucket(HTTP_REQUEST_RATE.perSecond, HTTP_REQUEST_RATE.burst);
      buckets.set(principal.sub, bucket);
    }
    if (!bucket.take())
      return next(
        new HttpError(
          'rate_limited',
          `more than ${HTTP_REQUEST_RATE.perSecond} requests a second; slow down`,
          Math.max(1, Math.ceil(bucket.msUntilNext() / 1000)),
        ),
      );
    principals.set(req, principal);
    next();
  }

  function fromHeader(req: Request, next: NextFunction, token: string): void {
    let principal: Principal;
    try {
      principal = verifyToken(token, jwt);
    } catch (error) {
      return next(
        new HttpError('unauthorized', error instanceof AuthError ? error.message : 'invalid token'),
      );
    }
    admit(req, principal, next);
  }

  return {
    bearer(req, _res, next) {
      const token = bearerToken(req.headers.authorization);
      if (!token) return next(new HttpError('unauthorized', NEED_BEARER));
      fromHeader(req, next, token);
    },
    bearerOrDownload(req, _res, next) {
      const token = bearerToken(req.headers.authorization);
      if (token) return fromHeader(req, next, token);
      const download = req.query.access_token;
      if (typeof download !== 'string') return next(new HttpError('unauthorized', NEED_BEARER));
      const jobId = req.params.id;
      if (typeof jobId !== 'string' || !JOB_ID_PATTERN.test(jobId))
        return next(new HttpError('bad_request', 'id: a job id is [A-Za-z0-9._-]{1,128}'));
      redeemDownloadToken(redis, download, jobId).then(
        (principal) =>
          principal ? admit(req, principal, next) : next(new HttpError('unauthorized', BAD_DOWNLOAD_TOKEN)),
        next,
      );
    },
  };
}
