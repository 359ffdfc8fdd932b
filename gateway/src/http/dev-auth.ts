/**
 * The local demo's sign-in (`DEV_AUTH`): the demo users and a token for one of them. Off unless
 * the gateway runs with DEV_AUTH and knows the HS256 secret; then both routes are 404.
 */
import { Router } from 'express';
import { z } from 'zod';
import { DEMO_USERS } from '../../../shared/demo.js';
import { ROLES } from '../../../shared/protocol.js';
import { signToken } from '../../../shared/auth/tokens.js';
import { HttpError, parseQuery } from './errors.js';

const devTokenQuery = z.object({
  sub: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  role: z.enum(ROLES).default('user'),
});

/** Dev sign-in tokens live an hour: the page asks for a new one before then. */
const DEV_TOKEN_TTL_S = 3600;

export function devAuth(devSecret: string | null): Router {
  const router = Router();
  const requireDevAuth = (): string => {
    if (!devSecret) throw new HttpError('not_found', 'dev sign-in is off (set DEV_AUTH)');
    return devSecret;
  };
  router.get('/api/dev', (_req, res) => {
    requireDevAuth();
    res.json({ devAuth: true, users: DEMO_USERS.map(({ sub, role }) => ({ sub, role })) });
  });
  router.get('/api/dev/token', (req, res) => {
    const secret = requireDevAuth();
    const { sub, role } = parseQuery(devTokenQuery, req.query);
    res.json({ token: signToken(secret, { sub, role }, DEV_TOKEN_TTL_S) });
  });
  return router;
}
