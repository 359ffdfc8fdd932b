/**
 * `Authorization: Bearer` for the job API, with a per-user request budget, and the one typed way
 * for a route to learn who is asking (`principalOf`), instead of a property bolted onto Request.
 */
import type { NextFunction, Request, Response } from 'express';
import { AuthError, bearerToken, verifyToken, type Principal } from '../auth.js';
import type { JwtConfig } from '../config.js';
import { HTTP_REQUEST_RATE, TokenBucket } from '../limits.js';
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

export function authenticator(jwt: JwtConfig) {
  const buckets = new Map<string, TokenBucket>();
  /** `allowQueryToken`: also `?access_token=` (download links cannot carry a header). */
  return (allowQueryToken: boolean) =>
    (req: Request, _res: Response, next: NextFunction): void => {
      const fromQuery =
        allowQueryToken && typeof req.query.access_token === 'string' ? req.query.access_token : null;
      const token = bearerToken(req.headers.authorization) ?? fromQuery;
      if (!token) return next(new HttpError('unauthorized', 'Authorization: Bearer <token> is required'));
      let principal: Principal;
      try {
        principal = verifyToken(token, jwt);
      } catch (error) {
        return next(
          new HttpError('unauthorized', error instanceof AuthError ? error.message : 'invalid token'),
        );
      }
      if (buckets.size > MAX_TRACKED_USERS) buckets.clear();
      let bucket = buckets.get(principal.sub);
      if (!bucket) {
        bucket = new TokenBucket(HTTP_REQUEST_RATE.perSecond, HTTP_REQUEST_RATE.burst);
        buckets.set(principal.sub, bucket);
      }
      if (!bucket.take()) return next(new HttpError('rate_limited', 'too many requests; slow down'));
      principals.set(req, principal);
      next();
    };
}
