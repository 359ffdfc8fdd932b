/**
 * Job tokens (docs/runners.md "Over HTTP"): the one credential of a runner that writes through
 * the gateway. Opaque (32 random bytes, base64url), kept in Redis only as the SHA-256 of the
 * token under the job's hash tag, so it needs no signing key, works with JWT_PUBLIC_KEY, and a
 * Redis dump never holds a usable token. It names one job; it is never a JWT, so no reading route,
 * `/ws` or `auth` frame accepts it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { jobCreatorKey, jobTokenKey } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';

const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A job token has no dots (a JWT has two) and is base64url of 32 bytes. */
export const looksLikeJobToken = (token: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(token);

/** A new token for `jobId`, remembered for `ttlS` (the job's creator is remembered as long). */
export async function issueJobToken(
  redis: RedisConnection,
  jobId: string,
  creator: string,
  ttlS: number,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await redis.set(jobTokenKey(jobId, sha256(token)), creator, 'EX', ttlS);
  await redis.set(jobCreatorKey(jobId), creator, 'EX', ttlS);
  return token;
}

/** Whether `token` is a job token of `jobId` (any other job's token is not). */
export async function isJobToken(redis: RedisConnection, jobId: string, token: string): Promise<boolean> {
  if (!looksLikeJobToken(token)) return false;
  return (await redis.exists(jobTokenKey(jobId, sha256(token)))) === 1;
}

/** Who created `jobId` over HTTP, or null (created directly in Redis, or long ago). */
export const creatorOf = (redis: RedisConnection, jobId: string): Promise<string | null> =>
  redis.get(jobCreatorKey(jobId));
