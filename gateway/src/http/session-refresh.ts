/**
 * `POST /api/session/refresh` (docs/protocol.md "Dashboard addresses"): a still-valid sign-in
 * token in, a new one out with the same `sub` and `role` and the same lifetime, so a dashboard
 * (and a wall left running for weeks) renews silently instead of asking the person to sign in.
 * Never past `auth_time` + JOBSTREAM_SESSION_MAX_S: `auth_time` is carried over from the first
 * token (or is its `iat`), so refreshing cannot make a session last for ever. A refresh that
 * would not extend `exp` is refused `session_expired`; only `user` and `admin` tokens refresh;
 * in public-key mode the identity provider refreshes, and the gateway answers 501.
 */
import { Router } from 'express';
import jwt from 'jsonwebtoken';
import { bearerToken } from '../auth/principal.js';
import type { JwtConfig } from '../ops/config.js';
import { principalOf, type Authenticator } from './authenticate.js';
import { HttpError } from './errors.js';

interface SignedClaims {
  iat?: number;
  exp: number;
  auth_time?: number;
}

export function sessionRefresh(authenticate: Authenticator, config: JwtConfig, sessionMaxS: number): Router {
  const router = Router();
  router.post('/api/session/refresh', authenticate.bearer, (req, res) => {
    const principal = principalOf(req);
    if (!config.algorithms.includes('HS256'))
      throw new HttpError(
        'not_implemented',
        'tokens come from the identity provider here: refresh them there',
      );
    if (principal.role === 'runner') throw new HttpError('forbidden', 'only user and admin tokens refresh');
    // Verified by `authenticate` already; its claims are read again for the times.
    const claims = jwt.decode(bearerToken(req.headers.authorization) ?? '') as SignedClaims | null;
    if (!claims || typeof claims.exp !== 'number') throw new HttpError('unauthorized', 'not a sign-in token');
    const now = Math.floor(Date.now() / 1000);
    const issuedAt = typeof claims.iat === 'number' ? claims.iat : now;
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : issuedAt;
    const lifetime = Math.max(60, claims.exp - issuedAt);
    const exp = Math.min(now + lifetime, authTime + sessionMaxS);
    if (exp <= claims.exp)
      throw new HttpError(
        'session_expired',
        `this session began ${new Date(authTime * 1000).toISOString()} and cannot be extended past ${sessionMaxS} s: sign in again`,
      );
    const token = jwt.sign({ sub: principal.sub, role: principal.role, auth_time: authTime }, config.key, {
      algorithm: 'HS256',
      expiresIn: exp - now,
    });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ token, expiresAt: exp * 1000 });
  });
  return router;
}
