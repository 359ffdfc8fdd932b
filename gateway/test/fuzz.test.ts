/**
 * Fuzzing the socket edge: thousands of random and mutated frames over many sockets while a
 * well-behaved socket watches a live job. The gateway must not crash or leak, and the good socket
 * must get every line exactly once. Seeded: FUZZ_SEED=<n> replays a run; FUZZ_FRAMES sizes it
 * (`npm run fuzz` runs 10^5).
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { FrameFuzzer, type FuzzFrame } from '../../shared/testing/fuzz-frames.js';
import { testSeed } from '../../shared/testing/seeded-random.js';
import { eventually, metric, startHarness, token, TestClient, type Harness, range } from './harness.js';

const SEED = testSeed('FUZZ_SEED', 'fuzz');
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 10_000);
/** Frames per fuzzing socket: within its burst, so frames are handled rather than rate-limited. */
const PER_SOCKET = 200;

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness();
  redis = h.redis.client();
});
afterAll(() => h.stop());

it(`survives ${FRAMES} fuzzed frames (seed ${SEED}) with no crash, no leak, and a good socket exact`, async () => {
  const ns = h.redis.namespace();
  const live = `${ns}-live`;
  const others = [`${ns}-a`, `${ns}-b`];
  for (const id of [live, ...others]) {
    await createJob(redis, { id, owner: 'alice', title: id });
    await setJobStatus(redis, id, 'running');
  }
  const good = await TestClient.connect(h.gateway.url, { token: token('alice') });
  good.send({ type: 'subscribe', jobId: live });
  await good.waitFor((f) => f.type === 'status');

  const fuzzer = new FrameFuzzer(SEED, [live, ...others, 'missing-job', `${ns}-nope`]);
  let written = 0;
  for (let sent = 0; sent < FRAMES;) {
    const fuzzers = await Promise.all(
      [1, 2, 3, 4, 5].map(() =>
        TestClient.connect(h.gateway.url, { token: token(sent % 2 ? 'alice' : 'mallory') }),
      ),
    );
    const send = (client: TestClient, frame: FuzzFrame): void => {
      if (frame.kind === 'text') client.ws.send(frame.data);
      else client.ws.send(frame.data, { binary: frame.binary });
    };
    for (const client of fuzzers) {
      for (let i = 0; i < PER_SOCKET && sent < FRAMES; i++, sent++) send(client, fuzzer.next());
    }
    written++;
    await appendLines(redis, live, [{ stream: 'stdout', line: `line ${written}` }]);
    // Frames are handled in order: a pong to a last ping means every fuzzed frame was handled.
    await Promise.all(
      fuzzers.map(async (client) => {
        client.send({ type: 'ping', id: 'fuzz-end' });
        await client
          .waitFor((f) => f.type === 'pong' && f.id === 'fuzz-end', 10_000)
          .catch((error: Error) => {
            if (client.closeCode === null) throw error; // closed for cause (1007, 1009) is fine
          });
      }),
    );
    // One socket in five ends with a frame that closes it (1007 or 1009).
    for (const client of fuzzers) {
      if (fuzzer.next().kind === 'bytes') {
        send(client, fuzzer.closing());
        expect([1007, 1009]).toContain(await client.waitForClose());
      }
      client.close();
    }
  }
  await setJobStatus(redis, live, 'success');
  await good.waitFor((f) => f.type === 'done', 20_000);
  expect(good.seqs(live)).toEqual(range(1, written));
  expect(good.closeCode).toBeNull();

  // no leak: once the fuzzing sockets are gone, nothing they asked for is held
  good.close();
  await eventually(
    async () => (await metric(h.gateway.url, 'jobstream_sockets')) === 0,
    10_000,
    'sockets closed',
  );
  await eventually(
    async () => (await metric(h.gateway.url, 'jobstream_subscriptions')) === 0,
    10_000,
    'subscriptions released',
  );
  expect(await h.stack.channelSubscribers([live, ...others])).toEqual([0, 0, 0]);
  expect(h.gateway.fanout.listenerCount).toBe(0);
  // still serving
  expect((await fetch(`${h.gateway.url}/readyz`)).status).toBe(200);
}, 120_000);
