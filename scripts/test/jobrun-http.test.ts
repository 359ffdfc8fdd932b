/**
 * `jobrun --url … --token …`: a runner that cannot reach Redis writes through the gateway's HTTP
 * ingest (docs/runners.md "Over HTTP"), with the same promise: every line the command wrote,
 * exactly once and in order, through a gateway restart and a `kill -9` of the gateway it was
 * talking to behind HAProxy; the exit code passed through; a cancel
 * asked for on the dashboard stops the command.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { getJob, requestCancel } from '../../shared/redis/functions.js';
import { storedLines } from '../../shared/testing/output.js';
import { runJobrun } from '../lib/jobrun-process.js';
import { startStack, type Stack } from '../lib/stack.js';
import { signToken } from '../../shared/auth/tokens.js';
import { GatewayProcess } from '../lib/gateway-process.js';
import { HaproxyProcess, haproxyInstalled } from '../lib/haproxy.js';

let s: Stack;
let redis: Redis;
beforeAll(async () => {
  s = await startStack();
  redis = s.redis!.client();
});
afterAll(() => s.stop());

/** jobrun with no way to Redis: REDIS_URL points at a closed port. */
const overHttp = (id: string, command: string, onStdout?: Parameters<typeof runJobrun>[2]['onStdout']) =>
  runJobrun(id, ['bash', '-c', command], {
    env: { REDIS_URL: 'redis://127.0.0.1:1', JOBSTREAM_URL: s.url, JOBSTREAM_TOKEN: s.token('ci', 'runner') },
    ...(onStdout ? { onStdout } : {}),
  });

it('stores every line of a fast command, both streams, and passes the exit code through, with no Redis access', async () => {
  const id = `${s.namespace()}-fast`;
  const run = await overHttp(id, 'seq 1 20000; echo oops >&2; exit 3');
  expect(run.exitCode).toBe(3);
  const stored = await storedLines(redis, id);
  expect(stored.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(
    Array.from({ length: 20000 }, (_, i) => String(i + 1)),
  );
  expect(stored.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['oops']);
  expect(stored.map((l) => l.seq)).toEqual(Array.from({ length: 20001 }, (_, i) => i + 1));
  expect(await getJob(redis, id)).toMatchObject({
    status: 'failed',
    exitCode: 3,
    owner: 'alice',
    lastSeq: 20001,
  });
}, 60_000);

it('goes on through a gateway restart: every line exactly once', async () => {
  const id = `${s.namespace()}-restart`;
  let restarted: Promise<void> | null = null;
  const run = await overHttp(
    id,
    'for i in $(seq 1 3000); do echo "line $i"; if [ $((i % 100)) = 0 ]; then sleep 0.02; fi; done',
    (out) => {
      // Half way through, the gateway goes away for a moment and comes back on the same port.
      if (restarted === null && out.includes('line 1500\n'))
        restarted = s.restartGateway(() => new Promise((resolve) => setTimeout(resolve, 300)));
    },
  );
  await restarted;
  expect(run.exitCode).toBe(0);
  expect(restarted).not.toBeNull();
  const stored = await storedLines(redis, id);
  expect(stored.map((l) => l.line)).toEqual(Array.from({ length: 3000 }, (_, i) => `line ${i + 1}`));
  expect(await getJob(redis, id)).toMatchObject({ status: 'success', lastSeq: 3000 });
}, 60_000);

it('a cancel asked for elsewhere stops the command and ends the job cancelled', async () => {
  const id = `${s.namespace()}-cancel`;
  let asked = false;
  const run = await overHttp(id, 'echo started; sleep 30', (out) => {
    if (!asked && out.includes('started')) {
      asked = true;
      void requestCancel(redis, id, 'alice');
    }
  });
  expect(run.exitCode).not.toBe(0);
  expect(await getJob(redis, id)).toMatchObject({ status: 'cancelled' });
  expect((await storedLines(redis, id)).map((l) => l.line)).toContain('started');
}, 30_000);

(haproxyInstalled() ? it : it.skip)(
  'goes on through a kill -9 of its gateway behind HAProxy: every line exactly once',
  async () => {
    const secret = 'jobrun-http-kill-secret';
    const env = { JWT_SECRET: secret, REDIS_URL: s.redis!.url };
    const gateways = await Promise.all([GatewayProcess.start(env), GatewayProcess.start(env)]);
    const haproxy = await HaproxyProcess.start(gateways.map((g) => g.address));
    try {
      const id = `${s.namespace()}-kill9`;
      let killed: Promise<void> | null = null;
      const run = await runJobrun(
        id,
        [
          'bash',
          '-c',
          'for i in $(seq 1 3000); do echo "line $i"; if [ $((i % 100)) = 0 ]; then sleep 0.02; fi; done',
        ],
        {
          env: {
            REDIS_URL: 'redis://127.0.0.1:1',
            JOBSTREAM_URL: haproxy.url,
            JOBSTREAM_TOKEN: signToken(secret, { sub: 'ci', role: 'runner' }, 3600),
          },
          onStdout: (out) => {
            // Half way the first gateway goes down hard, no shutdown: HAProxy spreads requests over
            // both, so batches in flight to it are lost replies, sent again with the same after.
            if (killed === null && out.includes('line 1500\n')) killed = gateways[0]!.kill();
          },
        },
      );
      await killed;
      expect(killed).not.toBeNull();
      expect(run.exitCode).toBe(0);
      const stored = await storedLines(redis, id);
      expect(stored.map((l) => l.line)).toEqual(Array.from({ length: 3000 }, (_, i) => `line ${i + 1}`));
      expect(await getJob(redis, id)).toMatchObject({ status: 'success', lastSeq: 3000 });
    } finally {
      await haproxy.stop();
      for (const g of gateways) await g.kill();
    }
  },
  90_000,
);
