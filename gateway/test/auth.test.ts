import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { appendLines, createJob } from '../../shared/redis/functions.js';
import { configFromEnv } from '../src/ops/config.js';
import {
  startHarness,
  token,
  TestClient,
  TestClock,
  upgradeStatus,
  SECRET,
  type Harness,
} from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ allowedOrigins: ['https://dash.example'], maxSocketsPerUser: 3 });
});
afterAll(() => h.stop());

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('upgrade authentication', () => {
  it('accepts a token in the Authorization header and answers jobstream.v1 with hello', async () => {
    const client = await TestClient.connect(h.gateway.url, { token: token('alice') });
    expect(client.ws.protocol).toBe('jobstream.v1');
    expect(client.frames[0]).toEqual({
      type: 'hello',
      protocol: 'jobstream.v1',
      heartbeatMs: 25_000,
      limits: { maxSubscriptions: 200, maxFrameBytes: 65_536, framesPerSecond: 20, burstFrames: 220 },
    });
    client.close();
  });

  it('accepts a browser token as the bearer.<jwt> subprotocol and answers jobstream.v1 only', async () => {
    const client = await TestClient.connect(h.gateway.url, { token: token('alice'), via: 'subprotocol' });
    expect(client.ws.protocol).toBe('jobstream.v1');
    client.close();
  });

  it('refuses missing, forged, expired, alg:none and wrong-family tokens with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cases = {
      missing: undefined,
      wrongSignature: jwt.sign({ sub: 'alice' }, 'another-secret', { expiresIn: 60 }),
      expired: jwt.sign({ sub: 'alice', exp: now - 10 }, SECRET),
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', exp: now + 60 })}.`,
      rs256: jwt.sign({ sub: 'alice' }, privateKey, { algorithm: 'RS256', expiresIn: 60 }),
      noExp: jwt.sign({ sub: 'alice' }, SECRET),
      noSub: jwt.sign({ role: 'admin' }, SECRET, { expiresIn: 60 }),
      badRole: jwt.sign({ sub: 'alice', role: 'root' }, SECRET, { expiresIn: 60 }),
      garbage: 'not.a.jwt',
    };
    for (const [name, value] of Object.entries(cases)) {
      const status = await upgradeStatus(h.gateway.url, value ? { token: value } : {});
      expect([name, status]).toEqual([name, 401]);
    }
    for (const [name, value] of Object.entries(cases)) {
      if (!value) continue;
      const status = await upgradeStatus(h.gateway.url, { token: value, via: 'subprotocol' });
      expect([name, status]).toEqual([name, 401]);
    }
  });

  it('checks the origin first (403), lets clients without Origin pass', async () => {
    expect(await upgradeStatus(h.gateway.url, { origin: 'https://evil.example' })).toBe(403);
    expect(
      await upgradeStatus(h.gateway.url, { origin: 'https://evil.example', token: token('alice') }),
    ).toBe(403);
    expect(
      await upgradeStatus(h.gateway.url, { origin: 'https://dash.example', token: token('alice') }),
    ).toBe(101);
    expect(await upgradeStatus(h.gateway.url, { token: token('alice') })).toBe(101);
  });

  it('refuses a client that does not offer jobstream.v1 with 400', async () => {
    expect(await upgradeStatus(h.gateway.url, { token: token('alice'), protocols: ['chat'] })).toBe(400);
    expect(await upgradeStatus(h.gateway.url, { token: token('alice'), protocols: [] })).toBe(400);
  });

  it('caps sockets per user with 429 and frees the slot on close', async () => {
    const clients = await Promise.all(
      [1, 2, 3].map(() => TestClient.connect(h.gateway.url, { token: token('capped') })),
    );
    expect(await upgradeStatus(h.gateway.url, { token: token('capped') })).toBe(429);
    expect(await upgradeStatus(h.gateway.url, { token: token('other-user') })).toBe(101);
    clients[0]!.ws.close();
    await clients[0]!.waitForClose();
    await expect(upgradeStatus(h.gateway.url, { token: token('capped') })).resolves.toBe(101);
    clients.forEach((c) => c.close());
  });
});

describe('token lifetime on an open socket', () => {
  // The gateway's clock is moved forward instead of waiting for a token to expire.
  const clock = new TestClock();
  let timed: Harness;
  beforeAll(async () => {
    timed = await startHarness({}, h.redis, { clock, expiryTickMs: 20 });
  });
  afterAll(() => timed.stop());
  beforeEach(() => {
    clock.skewMs = 0;
  });

  it('closes with 4001 when the token expires', async () => {
    const client = await TestClient.connect(timed.gateway.url, { token: token('alice', 'user', 60) });
    client.send({ type: 'ping', id: 1 });
    await client.waitFor((f) => f.type === 'pong');
    expect(client.closeCode).toBeNull(); // open while the token is valid
    clock.advance(61_000);
    expect(await client.waitForClose(2000)).toBe(4001);
  });

  it('an auth frame with a fresh token of the same sub keeps the socket open', async () => {
    const client = await TestClient.connect(timed.gateway.url, { token: token('alice', 'user', 60) });
    // A socket that does not refresh: its 4001 shows that the expiry check ran after the jump.
    const witness = await TestClient.connect(timed.gateway.url, { token: token('alice', 'user', 60) });
    client.send({ type: 'auth', token: token('alice', 'user', 3600) });
    client.send({ type: 'ping', id: 1 });
    await client.waitFor((f) => f.type === 'pong');
    clock.advance(120_000); // the first token has expired, the second has not
    expect(await witness.waitForClose(2000)).toBe(4001);
    client.send({ type: 'ping', id: 2 });
    await client.waitFor((f) => f.type === 'pong' && f.id === 2);
    expect(client.closeCode).toBeNull();
    client.close();
  });

  it('refuses an auth frame that is invalid or names another sub, and changes nothing', async () => {
    const client = await TestClient.connect(timed.gateway.url, { token: token('alice', 'user', 60) });
    client.send({ type: 'auth', token: token('mallory', 'admin', 3600) });
    client.send({ type: 'auth', token: 'nonsense' });
    const errors = () => client.frames.filter((f) => f.type === 'error' && f.code === 'unauthorized');
    await client.waitFor(() => errors().length === 2);
    clock.advance(61_000);
    expect(await client.waitForClose(2000)).toBe(4001); // the original expiry still stands
  });

  it('an auth frame that drops admin ends the subscriptions the new token may not see (not_found)', async () => {
    const redis = h.redis.client();
    const [own, other] = [`${h.redis.namespace()}-own`, `${h.redis.namespace()}-other`];
    await createJob(redis, { id: own, owner: 'alice', title: 'hers' });
    await createJob(redis, { id: other, owner: 'bob', title: 'his' });
    const client = await TestClient.connect(timed.gateway.url, { token: token('alice', 'admin') });
    for (const id of [own, other]) {
      client.send({ type: 'subscribe', jobId: id });
      await client.waitFor((f) => f.type === 'status' && f.jobId === id);
    }
    client.send({ type: 'auth', token: token('alice', 'user') });
    await client.waitFor((f) => f.type === 'error' && f.jobId === other && f.code === 'not_found');
    await appendLines(redis, other, [{ stream: 'stdout', line: 'not for alice' }]);
    await appendLines(redis, own, [{ stream: 'stdout', line: 'for alice' }]);
    await client.waitFor(() => client.seqs(own).length === 1);
    expect(client.seqs(other)).toEqual([]);
    client.close();
  });
});

describe('asymmetric keys', () => {
  it('verifies RS256 with JWT_PUBLIC_KEY and refuses an HS256 token made with the public key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsa = await startHarness({ jwt: configFromEnv({ JWT_PUBLIC_KEY: pem }).jwt }, h.redis);
    try {
      const good = jwt.sign({ sub: 'alice' }, privateKey, { algorithm: 'RS256', expiresIn: 60 });
      const confused = jwt.sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 }, pem, {
        algorithm: 'HS256',
        allowInsecureKeySizes: true,
      } as jwt.SignOptions);
      expect(await upgradeStatus(rsa.gateway.url, { token: good })).toBe(101);
      expect(await upgradeStatus(rsa.gateway.url, { token: confused })).toBe(401);
    } finally {
      await rsa.gateway.stop(1000);
    }
  });
});
