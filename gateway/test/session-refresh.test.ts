/**
 * `POST /api/session/refresh` (docs/protocol.md "Dashboard addresses"): a dashboard renews its
 * token silently — same identity, same lifetime, never past auth_time + JOBSTREAM_SESSION_MAX_S.
 * Before, a wall left running asked for a sign-in at the end of its token's life and stopped.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';
import { httpGet, SECRET, startHarness, token, type Harness } from './harness.js';

const SESSION_MAX_S = 3600;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ sessionMaxS: SESSION_MAX_S });
});
afterAll(() => h.stop());

const refresh = async (bearer: string) => {
  const res = await fetch(`${h.gateway.url}/api/session/refresh`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}` },
  });
  return { status: res.status, body: (await res.json()) as { token?: string; error?: { code: string } } };
};
const sign = (claims: Record<string, unknown>, expiresIn: number) =>
  jwt.sign(claims, createSecretKey(Buffer.from(SECRET)), { algorithm: 'HS256', expiresIn });
const decoded = (t: string) =>
  jwt.decode(t) as { sub: string; role: string; iat: number; exp: number; auth_time: number };

it('gives a new token with the same identity and lifetime, which the gateway takes', async () => {
  // Signed 100 s ago for 600 s: a refresh now extends it by 100 s (one that would not is refused).
  const old = sign({ sub: 'alice', role: 'admin', iat: Math.floor(Date.now() / 1000) - 100 }, 600);
  const answer = await refresh(old);
  expect(answer.status).toBe(200);
  const fresh = decoded(answer.body.token!);
  expect(fresh).toMatchObject({ sub: 'alice', role: 'admin', auth_time: decoded(old).iat });
  expect(fresh.exp - fresh.iat).toBe(600);
  expect(fresh.exp).toBeGreaterThanOrEqual(decoded(old).exp);
  expect((await httpGet(h.gateway.url, '/api/jobs', answer.body.token)).status).toBe(200);
  // Refreshed again later, the session still counts from the first sign-in.
  const now = Math.floor(Date.now() / 1000);
  const later = sign({ sub: 'alice', role: 'admin', iat: now - 50, auth_time: decoded(old).iat }, 600);
  expect(decoded((await refresh(later)).body.token!).auth_time).toBe(decoded(old).iat);
  // One that would not extend exp is refused. Issued 5 s ahead of this clock, so that it holds
  // however slow the machine (before: a second refresh "in the same second", which CI once missed).
  const ahead = await refresh(sign({ sub: 'alice', role: 'admin', iat: now + 5 }, 600));
  expect([ahead.status, ahead.body.error?.code]).toEqual([401, 'session_expired']);
});

it('never past auth_time + JOBSTREAM_SESSION_MAX_S: then it is refused session_expired', async () => {
  const now = Math.floor(Date.now() / 1000);
  const capped = await refresh(
    sign({ sub: 'bob', role: 'user', iat: now - 550, auth_time: now - SESSION_MAX_S + 100 }, 600),
  );
  expect(decoded(capped.body.token!).exp).toBe(now - SESSION_MAX_S + 100 + SESSION_MAX_S);
  const over = await refresh(sign({ sub: 'bob', role: 'user', auth_time: now - SESSION_MAX_S - 10 }, 600));
  expect([over.status, over.body.error?.code]).toEqual([401, 'session_expired']);
});

it('refuses runner tokens, expired tokens and no token', async () => {
  expect((await refresh(token('ci', 'runner'))).status).toBe(403);
  expect((await refresh(sign({ sub: 'carol', role: 'user' }, -10))).status).toBe(401);
  const none = await fetch(`${h.gateway.url}/api/session/refresh`, { method: 'POST' });
  expect(none.status).toBe(401);
});

it('answers 501 in public-key mode: the identity provider refreshes', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsa = await startHarness({ jwt: { key: publicKey, algorithms: ['RS256'] } }, h.redis);
  try {
    const signed = jwt.sign({ sub: 'dave', role: 'user' }, privateKey, {
      algorithm: 'RS256',
      expiresIn: 600,
    });
    const res = await fetch(`${rsa.gateway.url}/api/session/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${signed}` },
    });
    expect(res.status).toBe(501);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_implemented');
  } finally {
    await rsa.stop();
  }
});
