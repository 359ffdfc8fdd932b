/**
 * One short run of each benchmark scenario's code path (npm run bench stays out of npm test):
 * the three servers start, the load generator speaks each one's protocol, and every line offered
 * is delivered — a bench that measured a server losing lines would be measuring nothing. Figures
 * are not asserted: speed is measured, not tested.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../../shared/redis/library.js';
import { PrivateRedis } from '../lib/private-redis.js';
import * as scenarios from './scenarios.js';
import { replay } from './replay-scenario.js';
import { cliScenario } from './cli-scenario.js';
import { SERVER_KINDS } from './servers.js';

let redis: PrivateRedis;
let client: Redis;
beforeAll(async () => {
  scenarios.onProgress(() => undefined);
  redis = await PrivateRedis.start();
  client = redis.client();
  await loadLibrary(client, DEFAULT_LIBRARY_CONFIG);
});
afterAll(() => redis.stop());

/** Every server measured, each having delivered every line it was offered, with no error. */
function expectLossless(rows: scenarios.Measurement[], servers: readonly string[]): void {
  expect(rows.map((m) => m.server).sort()).toEqual([...servers].sort());
  for (const m of rows) {
    expect({ server: m.server, scenario: m.scenario, lost: m.lost, errors: m.errors }).toEqual({
      server: m.server,
      scenario: m.scenario,
      lost: 0,
      errors: '',
    });
    expect(m.delivered).toBe(m.expected);
    expect(m.expected).toBeGreaterThan(0);
  }
}

describe('bench scenarios, smoke-sized', () => {
  it.each([
    ['fan-out: one job per socket', { sockets: 20, jobs: 2, jobsPerSocket: 1 }],
    ['wall: each socket watching several jobs', { sockets: 6, jobs: 4, jobsPerSocket: 3 }],
  ])(
    '%s, every server, every line delivered',
    async (scenario, shape) => {
      const rows = await scenarios.fanout(client, redis.url, {
        scenario,
        ...shape,
        ratesPerJob: [10],
        seconds: 1,
      });
      expectLossless(rows, SERVER_KINDS);
    },
    60_000,
  );

  it('batched and unbatched runners through the gateway, every line delivered', async () => {
    const rows = await scenarios.batched(client, redis.url, {
      sockets: 4,
      jobs: 2,
      linesPerSecondPerJob: 100,
      seconds: 1,
    });
    expectLossless(rows, ['gateway', 'gateway']);
  }, 60_000);

  it('idle: every socket of the storm connects (and subscribes) on every server', async () => {
    const rows = await scenarios.idle(client, redis.url, { sockets: 30, jobs: 3, settleMs: 0 });
    expect(rows.map((r) => [r.server, r.sockets, r.failed])).toEqual(
      SERVER_KINDS.map((kind) => [kind, 30, 0]),
    );
  }, 60_000);

  it('replay: every line of a finished job, through the gateway and by LRANGE', async () => {
    // replayOnce rejects unless every line arrived before `done`
    const result = await replay(client, redis.url, { lines: 2500, runs: 1 });
    expect(result.lines).toBe(2500);
    expect(result.gatewayMs).toBeGreaterThan(0);
    expect(result.lrangeMs).toBeGreaterThan(0);
  }, 60_000);

  it('cli: jobstream logs and logs -f write exactly what output.txt holds', async () => {
    const m = await cliScenario(client, redis.url, { lines: 3000, runs: 1 });
    const floor = m.bytes['curl output.txt (floor)'];
    expect(floor).toBeGreaterThan(3000 * 50);
    expect(m.bytes['jobstream logs']).toBe(floor);
    expect(m.bytes['jobstream logs -f']).toBe(floor);
    expect(Object.values(m.ms).every((runs) => runs.length === 1 && runs[0]! > 0)).toBe(true);
  }, 120_000);
});
