/**
 * The library keeper on a Redis Cluster where a primary stops answering. That primary is its
 * shard's trouble, which `/readyz` reports as `degraded` while this gateway serves every other
 * shard: it must not turn `/readyz` into a 503 (behind HAProxy's `fall 1`, a gateway out of
 * rotation). Seen in CI and reproduced by polling `/readyz` through scale-out.test.ts's lost
 * shard: one gateway answered 503 "the jobstream function library could not be checked or loaded
 * (Connection is closed.)" for 2 s when the shard died and again when it came back, because its
 * keeper's check had been talking to the dying primary. The library is still checked, and loaded
 * again, on every primary that answers; only when none answers is the gateway unready.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { PrivateRedisCluster } from '../../scripts/lib/private-redis-cluster.js';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary, loadedLibrary } from '../../shared/redis/library.js';
import { createLogger } from '../src/ops/logger.js';
import { GatewayMetrics } from '../src/ops/metrics.js';
import { LibraryKeeper } from '../src/redis/library-keeper.js';

let cluster: PrivateRedisCluster;
beforeAll(async () => {
  cluster = await PrivateRedisCluster.start(3);
}, 60_000);
afterAll(() => cluster?.stop());

it('a primary that does not answer leaves the keeper healthy but degraded, and the library loaded where it went missing; no primary answering is unhealthy', async () => {
  const config = { ...DEFAULT_LIBRARY_CONFIG, eventsPublish: 'spublish' as const };
  const redis = cluster.client();
  await loadLibrary(redis, config);
  const keeper = new LibraryKeeper(redis, config, new GatewayMetrics(), createLogger('silent'), {
    intervalMs: 60_000,
    deadlineMs: 300,
  });
  await keeper.check('missing');
  expect([keeper.unhealthyReason, keeper.degradedReason]).toEqual([null, null]);

  const [first, second, third] = cluster.nodes;
  await first!.client().call('FUNCTION', 'DELETE', 'jobstream'); // as a node restarted without it
  // The third primary stops answering without closing its connections (as a dying host does).
  await third!.client().call('CLIENT', 'PAUSE', '1500', 'ALL');
  await keeper.check('missing');
  expect(keeper.unhealthyReason).toBeNull(); // before: "could not be checked or loaded (… timed out)"
  expect(keeper.degradedReason).toMatch(
    new RegExp(
      `^the jobstream function library could not be checked or loaded on 127\\.0\\.0\\.1:${third!.port} `,
    ),
  );
  expect(await loadedLibrary(first!.client())).toMatchObject({ eventsPublish: 'spublish' });

  await third!.client().ping(); // answered once the pause is over
  await keeper.check('missing');
  expect([keeper.unhealthyReason, keeper.degradedReason]).toEqual([null, null]);

  for (const node of [first, second, third]) await node!.client().call('CLIENT', 'PAUSE', '1500', 'ALL');
  await keeper.check('missing');
  expect(keeper.unhealthyReason).toMatch(/^the jobstream function library could not be checked or loaded \(/);
}, 60_000);
