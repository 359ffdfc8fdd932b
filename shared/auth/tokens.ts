/**
 * Minting HS256 tokens for the local demo, tests and the load tester. Verification is the
 * gateway's (gateway/src/auth/principal.ts); both agree on the claims of docs/protocol.md: `sub`, `role`, `exp`.
 */
import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Role } from '../protocol.js';

export type { Role };
export interface TokenClaims {
  sub: string;
  role?: Role;
  /** When it was signed (seconds; default now): the lifetime counts from here. */
  iat?: number;
  /** When the session began (seconds): a refresh never takes it past this + the session maximum. */
  auth_time?: number;
}

/** `90`, `90s`, `15m`, `1h`, `7d` → seconds. */
export function parseTtl(ttl: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(ttl.trim());
  if (!match) throw new Error(`--ttl must look like 90s, 15m, 1h or 7d, not "${ttl}"`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

export function signToken(secret: string, claims: TokenClaims, ttlSeconds: number): string {
  const times = {
    ...(claims.iat !== undefined ? { iat: claims.iat } : {}),
    ...(claims.auth_time !== undefined ? { auth_time: claims.auth_time } : {}),
  };
  return jwt.sign(
    { sub: claims.sub, role: claims.role ?? 'user', ...times },
    createSecretKey(Buffer.from(secret)),
    {
      algorithm: 'HS256',
      expiresIn: ttlSeconds,
    },
  );
}
