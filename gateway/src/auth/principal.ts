/**
 * Token verification: an explicit algorithm list (never `alg: none`, never an HMAC check with a
 * public key), claims `sub` (required), `role` (`user` by default, `admin` or `runner`), `exp` (required).
 */
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { ROLES, type Role } from '../../../shared/protocol.js';
import type { JwtConfig } from '../ops/config.js';

export interface Principal {
  sub: string;
  role: Role;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(256),
  role: z.enum(ROLES).default('user'),
  exp: z.number(),
});

export class AuthError extends Error {
  override readonly name = 'AuthError';
}

/** Verifies a token at `now` (the gateway's clock, so tests can move time). */
export function verifyToken(token: string, config: JwtConfig, now = Date.now()): Principal {
  let payload: unknown;
  try {
    payload = jwt.verify(token, config.key, {
      algorithms: config.algorithms,
      clockTimestamp: Math.floor(now / 1000),
    });
  } catch (error) {
    throw new AuthError(error instanceof Error ? error.message : 'invalid token');
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new AuthError('token claims need sub and exp; role is user, admin or runner');
  return { sub: claims.data.sub, role: claims.data.role, expiresAt: claims.data.exp * 1000 };
}

/** The owner rule: a user sees its own jobs, an admin sees every job, a runner sees none. */
export function maySee(principal: Pick<Principal, 'sub' | 'role'>, owner: string): boolean {
  if (principal.role === 'runner') return false;
  return principal.role === 'admin' || principal.sub === owner;
}

/** `Bearer <token>` → token, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

/**
 * The principal of a token that replaces `current`'s on an open socket (an `auth` frame), or why
 * it is refused: it must verify, and name the same user (its role may change either way).
 */
export function verifyReplacement(
  token: string,
  current: Principal,
  config: JwtConfig,
  now: number,
): Principal | { refused: string } {
  let principal: Principal;
  try {
    principal = verifyToken(token, config, now);
  } catch (error) {
    return { refused: `token refused: ${error instanceof AuthError ? error.message : 'invalid'}` };
  }
  if (principal.sub !== current.sub) return { refused: 'the new token names another user' };
  return principal;
}
