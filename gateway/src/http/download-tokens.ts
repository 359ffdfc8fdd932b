/**
 * Download tokens (docs/protocol.md "HTTP API"): a link to `output.txt` cannot carry a header, and a
 * sign-in token in a URL ends up in history and proxy logs. So the page asks for an opaque token
 * that Redis keeps for 60 s, under a key in the job's own slot (bound to that one job, valid on
 * every gateway process, whatever the key mode). It names the caller, so the owner rule still
 * applies when it is used, and it is not a JWT: it can never sign anyone in.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ROLES } from '../../../shared/protocol.js';
import { downloadTokenKey } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { Principal } from '../auth/principal.js';

export const DOWNLOAD_TOKEN_TTL_S = 60;
/** 32 random bytes, base64url: what a well-formed download token looks like. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const holderSchema = z.object({ sub: z.string().min(1), role: z.enum(ROLES) });

/** A download token (60 s), or a stream token (`ttlS`: until the caller's sign-in token expires). */
export async function issueDownloadToken(
  redis: RedisConnection,
  principal: Principal,
  jobId: string,
  ttlS = DOWNLOAD_TOKEN_TTL_S,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const holder = { sub: principal.sub, role: principal.role };
  await redis.set(downloadTokenKey(jobId, token), JSON.stringify(holder), 'EX', ttlS);
  return token;
}

/** Who the token was issued to, or null when it is unknown, expired or for another job. */
export async function redeemDownloadToken(
  redis: RedisConnection,
  token: string,
  jobId: string,
  now = Date.now(),
): Promise<Principal | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const stored = await redis.get(downloadTokenKey(jobId, token));
  if (stored === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return null;
  }
  const holder = holderSchema.safeParse(parsed);
  if (!holder.success) return null;
  return { ...holder.data, expiresAt: now + DOWNLOAD_TOKEN_TTL_S * 1000 };
}
