/**
 * Past one machine, with real processes (docs/operations.md "Scaling out"): three gateway
 * processes behind HAProxy on a Redis Cluster of three primaries with a replica each (AOF, so a
 * lost shard can come back with its data).
 *
 * - A primary `kill -9`ed mid-stream while runners write and watchers follow through HAProxy:
 *   its replica takes over, the runners carry on (rebuilding lines the old primary acknowledged
 *   but never replicated), and every watcher ends with exactly what Redis holds.
 * - A gateway `kill -9`ed mid-stream: its clients reconnect through HAProxy and resume with
 *   `since`, with exactly the missing lines.
 * - A shard lost with its replica: the gateways back off (little CPU), say so, stream the other
 *   shards' jobs on, and catch every watcher up when the shard returns.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Cluster } from 'ioredis';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { PrivateRedisCluster } from '../../scripts/lib/private-redis-cluster.js';
import type { OutputLine } from '../../shared/protocol.js';
import { jobKey, outputKey } from '../../shared/keys.js';
import { signToken } from '../../shared/auth/tokens.js';
import { GatewayProcess } from '../../scripts/lib/gateway-process.js';
import { HaproxyProcess, haproxyInstalled } from '../../scripts/lib/haproxy.js';
import { Follower } from '../../scripts/lib/follower.js';
import { eventually } from './harness.js';

const SECRET = 'scale-out-test-secret';
const token = (sub: string, role: 'user' | 'admin' = 'user') => signToken(SECRET, { sub, role }, 3600);

let cluster: PrivateRedisCluster;
let redis: Cluster;
let gateways: GatewayProcess[] = [];
let haproxy: HaproxyProcess;

const describeIfHaproxy = haproxyInstalled() ? describe : describe.skip;

beforeAll(async () => {
  if (!haproxyInstalled()) return;
  cluster = await PrivateRedisCluster.start(3, { replicas: 1, nodeTimeoutMs: 2000, aof: true });
  redis = cluster.client();
  const env = { REDIS_CLUSTER_NODES: cluster.nodeList, JWT_SECRET: SECRET };
  gateways = await Promise.all([1, 2, 3].map(() => GatewayProcess.start(env)));
  haproxy = await HaproxyProcess.start(gateways.map((g) => g.address));
}, 120_000);

/** Every follower a test started, stopped after it whether it passed or not. */
const following: Follower[] = [];
const follow = (bearer: string, jobIds: string[]): Follower => {
  const follower = new Follower(haproxy.url, bearer, jobIds);
  following.push(follower);
  return follower;
};
afterEach(() => following.splice(0).forEach((f) => f.stop()));

afterAll(async () => {
  await haproxy?.stop();
  await Promise.all(gateways.map((g) => g.kill()));
  await cluster?.stop();
});

/** `perShard` job ids for each of the cluster's shards, keyed by the shard's primary port. */
async function jobsOnEveryShard(prefix: string, perShard: number): Promise<string[]> {
  const byPrimary = new Map<number, string[]>();
  for (let i = 0; byPrimary.size < 3 || [...byPrimary.values()].some((ids) => ids.length < perShard); i++) {
    const id = `${prefix}-${i}`;
    const { primary } = await cluster.shardOf(jobKey(id));
    const ids = byPrimary.get(primary) ?? [];
    if (ids.length < perShard) ids.push(id);
    byPrimary.set(primary, ids);
  }
  return [...byPrimary.values()].flat();
}

async function storedLines(id: string): Promise<string[]> {
  const entries = await redis.lrange(outputKey(id), 0, -1);
  return entries.map((entry) => (JSON.parse(entry) as OutputLine).line);
}

/**
 * Writes lines `from + 1` … `to` to each publisher, `perTick` at a time, calling `at` after each
 * tick, at a runner's pace.
 */
async function write(
  publishers: JobPublisher[],
  { from = 0, to, perTick }: { from?: number; to: number; perTick: number },
  at: (written: number) => Promise<void> = async () => undefined,
): Promise<void> {
  for (let written = from; written < to;) {
    const n = Math.min(perTick, to - written);
    for (const p of publishers) for (let i = 1; i <= n; i++) p.stdout(`${p.jobId} line ${written + i}`);
    written += n;
    await at(written);
    await new Promise((resolve) => setTimeout(resolve, 100)); // a runner's pace, not a synchronisation
  }
}

const expectedLines = (id: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${id} line ${i + 1}`);

describeIfHaproxy('scale-out', () => {
  it('a primary killed mid-stream: the replica takes over, runners carry on, every watcher is exact', async () => {
    const LINES = 20_000;
    const ids = await jobsOnEveryShard('failover', 2);
    const publishers = await Promise.all(
      ids.map((id) => JobPublisher.create(redis, { id, owner: 'alice', title: id })),
    );
    await Promise.all(publishers.map((p) => p.start()));
    const followers = Array.from({ length: 60 }, (_, i) => follow(token('alice'), [ids[i % 6]!]));
    await Promise.all(followers.map((f) => f.start()));

    const busiest = ids[0]!;
    const victim = await cluster.shardOf(jobKey(busiest));
    let killedAt = 0;
    await write(publishers, { to: LINES, perTick: 250 }, async (written) => {
      if (killedAt === 0 && written >= LINES / 3) {
        killedAt = Date.now();
        await cluster.node(victim.primary).kill();
      }
    });
    await Promise.all(publishers.map((p) => p.finish(0)));
    await Promise.all(publishers.map((p) => p.close()));
    const promoted = await cluster.shardOf(jobKey(busiest));
    expect(victim.replicas).toContain(promoted.primary);

    await Promise.all(followers.map((f) => f.until(() => f.done.size === 1, 60_000, 'done')));
    for (const id of ids) {
      const stored = await storedLines(id);
      expect(stored).toEqual(expectedLines(id, LINES)); // same content at every seq: nothing renumbered
    }
    for (const f of followers) {
      expect(f.violations).toEqual([]);
      expect(f.lines.get(f.jobIds[0]!)).toEqual(expectedLines(f.jobIds[0]!, LINES));
      f.stop();
    }
    // Bring the old primary back as a replica, for the tests that follow.
    await cluster.node(victim.primary).restart();
    await cluster.untilOk();
  }, 180_000);

  it('a gateway killed mid-stream: its clients resume through HAProxy with exactly the missing lines', async () => {
    const LINES = 3000;
    const ids = await jobsOnEveryShard('gwkill', 1);
    const publishers = await Promise.all(
      ids.map((id) => JobPublisher.create(redis, { id, owner: 'bob', title: id })),
    );
    await Promise.all(publishers.map((p) => p.start()));
    const followers = Array.from({ length: 30 }, () => follow(token('bob'), ids));
    await Promise.all(followers.map((f) => f.start()));
    const victim = gateways[0]!;
    await write(publishers, { to: LINES, perTick: 100 }, async (written) => {
      if (written === LINES / 3) await victim.kill();
    });
    await Promise.all(publishers.map((p) => p.finish(0)));
    await Promise.all(publishers.map((p) => p.close()));
    await Promise.all(followers.map((f) => f.until(() => f.done.size === ids.length, 30_000, 'done')));
    // leastconn spread the 30 sockets over three gateways: about a third lost theirs.
    expect(followers.filter((f) => f.reconnects > 0).length).toBeGreaterThanOrEqual(5);
    for (const f of followers) {
      expect(f.violations).toEqual([]);
      for (const id of ids) expect(f.lines.get(id)).toEqual(expectedLines(id, LINES));
      f.stop();
    }
    // Back on its address, so HAProxy has three gateways again for the tests that follow.
    gateways[0] = await GatewayProcess.start(
      { REDIS_CLUSTER_NODES: cluster.nodeList, JWT_SECRET: SECRET },
      victim.port,
    );
  }, 120_000);

  it('a shard lost with its replica: gateways back off, say so, stream the rest, and catch up when it returns', async () => {
    const ids = await jobsOnEveryShard('shardloss', 1);
    const publishers = await Promise.all(
      ids.map((id) => JobPublisher.create(redis, { id, owner: 'carol', title: id })),
    );
    await Promise.all(publishers.map((p) => p.start()));
    const followers = Array.from({ length: 9 }, () => follow(token('carol'), ids));
    await Promise.all(followers.map((f) => f.start()));
    await write(publishers, { to: 100, perTick: 50 });
    await Promise.all(
      followers.map((f) => f.until(() => ids.every((id) => f.held(id) === 100), 20_000, 'lines')),
    );

    const lost = await cluster.shardOf(jobKey(ids[0]!));
    const lostNodes = [lost.primary, ...lost.replicas].map((port) => cluster.node(port));
    await Promise.all(lostNodes.map((n) => n.kill()));
    const running = cluster.nodes.filter((n) => !lostNodes.includes(n));
    // The other shards keep serving (cluster-require-full-coverage no): their jobs stream on.
    await write(publishers, { from: 100, to: 150, perTick: 50 }); // the lost shard's runner keeps its own
    const elsewhere = ids.slice(1);
    await Promise.all(
      followers.map((f) =>
        f.until(() => elsewhere.every((id) => f.held(id) === 150), 20_000, 'lines elsewhere'),
      ),
    ).catch(async (error: Error) => {
      // What each watcher held and what each gateway said, so a failure can be read from the log.
      const held = followers.map((f) => elsewhere.map((id) => f.held(id)).join('/')).join(' ');
      const ready = await Promise.all(
        gateways.map((g) => fetch(`${g.url}/readyz`).then((r) => r.text(), String)),
      );
      throw new Error(
        `${error.message}; held ${held}; buffered ${publishers.map((p) => p.bufferedLines).join(',')}; readyz ${ready.join(' | ')}`,
      );
    });
    await eventually(
      async () =>
        ((await (await fetch(`${gateways[1]!.url}/readyz`)).json()) as { status: string }).status ===
        'degraded',
      15_000,
      '/readyz to say degraded',
    );
    const ready = await fetch(`${gateways[1]!.url}/readyz`);
    expect(ready.status).toBe(200); // it still serves every other shard
    expect(await ready.json()).toMatchObject({
      status: 'degraded',
      reason: expect.stringContaining(`${lost.primary}`),
    });
    const cpuBefore = gateways.map((g) => g.cpuSeconds());
    const windowStart = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5000)); // a measuring window, not a synchronisation
    const seconds = (Date.now() - windowStart) / 1000;
    const cpuShare = gateways.map((g, i) => (g.cpuSeconds() - cpuBefore[i]!) / seconds);
    console.log(
      `gateway CPU while a shard is lost: ${cpuShare.map((c) => `${(c * 100).toFixed(1)}%`).join(', ')}`,
    );
    for (const share of cpuShare) expect(share).toBeLessThan(0.15); // it was a whole core (ioredis-internals.ts)

    await Promise.all(lostNodes.map((n) => n.restart()));
    await cluster.untilOk(30_000, [...running, ...lostNodes]);
    await write(publishers, { from: 150, to: 200, perTick: 50 }); // the lost shard's job included
    await Promise.all(publishers.map((p) => p.finish(0)));
    await Promise.all(publishers.map((p) => p.close()));
    await Promise.all(followers.map((f) => f.until(() => f.done.size === ids.length, 60_000, 'done')));
    for (const f of followers) {
      expect(f.violations).toEqual([]);
      for (const id of ids) expect(f.lines.get(id)).toEqual(expectedLines(id, 200));
      f.stop();
    }
    await eventually(
      async () =>
        ((await (await fetch(`${gateways[1]!.url}/readyz`)).json()) as { status: string }).status === 'ready',
      15_000,
      '/readyz to say ready again',
    );
  }, 180_000);
});
