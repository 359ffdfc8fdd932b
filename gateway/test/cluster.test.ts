/**
 * The gateway on a Redis Cluster: the library loaded on every primary with SPUBLISH for job
 * events, sharded subscriptions per job, the feed by classic pub/sub.
 */
import { spawnJobrun } from '../../scripts/lib/jobrun-process.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobPublisher } from '../../shared/runner/publisher.js';
import { appendLines, createJob, getJob, requestCancel, setJobStatus } from '../../shared/redis/functions.js';
import { loadedLibrary } from '../../shared/redis/library.js';
import { startStack, type Stack } from '../../scripts/lib/stack.js';
import type { Redis } from 'ioredis';
import type { RedisConnection } from '../../shared/redis/client.js';
import type { PrivateRedisCluster } from '../../scripts/lib/private-redis-cluster.js';
import type { Gateway } from '../src/server.js';
import { SECRET, token, TestClient } from './harness.js';

let stack: Stack;
let cluster: PrivateRedisCluster;
let gateway: Gateway;
let redis: RedisConnection;

beforeAll(async () => {
  stack = await startStack({ topology: 'cluster', secret: SECRET });
  cluster = stack.cluster!;
  gateway = stack.gateway;
  redis = stack.client();
}, 60_000);

afterAll(() => stack?.stop());

/** Creates `ids` as running jobs of alice's with one line each; resolves once `client` holds it. */
async function runningAndWatched(client: TestClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    await createJob(redis, { id, owner: 'alice', title: id });
    await setJobStatus(redis, id, 'running');
    await appendLines(redis, id, [{ stream: 'stdout', line: `${id} 1` }]);
    client.send({ type: 'subscribe', jobId: id });
  }
  for (const id of ids) await client.waitFor(() => client.seqs(id).length === 1);
}

it('loads the library on every primary, in sharded mode', async () => {
  for (const node of cluster.nodes) {
    expect(await loadedLibrary(node.client())).toMatchObject({ eventsPublish: 'spublish' });
  }
});

it('replays and streams jobs whose keys live on different shards, and the feed', async () => {
  const ids = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
  const client = await TestClient.connect(gateway.url, { token: token('alice') });
  client.send({ type: 'watch', topic: 'jobs' });
  await client.waitFor((f) => f.type === 'watching');
  await runningAndWatched(client, ids);
  for (const id of ids) {
    await appendLines(redis, id, [{ stream: 'stdout', line: `${id} 2` }]);
    await setJobStatus(redis, id, 'success');
  }
  for (const id of ids) {
    await client.waitFor((f) => f.type === 'done' && f.jobId === id);
    expect(client.seqs(id)).toEqual([1, 2]);
  }
  // Feed frames cross the cluster bus (classic PUBLISH), job events do not (sharded): the feed
  // may trail the job's own `done`, so wait for it rather than assume an order between the two.
  const feed = () => client.frames.flatMap((f) => (f.type === 'job' ? [`${f.job.id}:${f.job.status}`] : []));
  const expected = ids.flatMap((id) => [`${id}:queued`, `${id}:running`, `${id}:success`]);
  await client.waitFor(() => expected.every((e) => feed().includes(e)), 10_000);
  expect(feed()).toHaveLength(expected.length);
  // the HTTP API reads jobs from several shards too
  const res = await fetch(`${gateway.url}/api/jobs?limit=200`, {
    headers: { authorization: `Bearer ${token('alice')}` },
  });
  expect(res.status).toBe(200);
  const listed = ((await res.json()) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
  expect(listed.sort()).toEqual([...ids].sort());
  // the keys really are spread over the shards
  const owners = await Promise.all(ids.map((id) => redis.call('CLUSTER', 'KEYSLOT', `job:{${id}}`)));
  expect(new Set(owners).size).toBeGreaterThan(1);
  client.close();
}, 60_000);

describe('runners on a Redis Cluster', () => {
  it('JobPublisher batches, heartbeats and hears a cancel on the sharded control channel', async () => {
    const id = `${stack.namespace()}-publisher`;
    const publisher = await JobPublisher.create(redis, { id, owner: 'alice', title: 'on a cluster' });
    await publisher.start();
    for (let n = 1; n <= 2000; n++) publisher.stdout(`line ${n}`);
    await publisher.flush();
    const job = await getJob(redis, id);
    expect(job).toMatchObject({ status: 'running', lastSeq: 2000 });
    expect(job!.heartbeatAt).toBeGreaterThan(0);
    const stored = await redis.lrange(`job:{${id}}:output`, 0, -1);
    expect(stored.map((e) => (JSON.parse(e) as { seq: number }).seq)).toEqual(
      Array.from({ length: 2000 }, (_, i) => i + 1),
    );
    const heard = new Promise<number>((resolve) => publisher.once('cancel', resolve));
    const requestedAt = await requestCancel(redis, id, 'bob');
    expect(await heard).toBe(requestedAt); // at once, from job:{J}:control, not a later heartbeat
    await publisher.cancel('stopped');
    await publisher.close();
    expect((await getJob(redis, id))?.status).toBe('cancelled');
  }, 30_000);

  it('jobrun writes to the cluster REDIS_CLUSTER_NODES names (never to 127.0.0.1:6379)', async () => {
    const id = `${stack.namespace()}-jobrun`;
    const child = spawnJobrun(id, ['sh', '-c', 'echo one; echo two'], {
      env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: cluster.nodeList },
      stdio: 'ignore',
    });
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    expect(await getJob(redis, id)).toMatchObject({ status: 'success', lastSeq: 2 });
  }, 30_000);
});

/**
 * ioredis replaces single subscriber connections under a Cluster that stays up, and re-sends
 * their SUBSCRIBEs by itself; what was published in between is lost to pub/sub. These kill one
 * connection (as a node restart, a proxy or `CLIENT KILL` would) and publish before ioredis can
 * have a new one subscribed, with nothing published after: only a gateway that noticed catches up.
 */
describe('a subscriber connection replaced under a Cluster that stays up', () => {
  /**
   * Kills this gateway's connections of `role` on every node; resolves how many. All are listed
   * before any is killed, so a replacement ioredis opens meanwhile is not killed too.
   */
  async function killGatewayConnections(role: 'ssubscriber' | 'subscriber'): Promise<number> {
    const victims: { client: Redis; id: string }[] = [];
    for (const node of cluster.nodes) {
      const client = node.client();
      const list = String(await client.call('CLIENT', 'LIST'));
      for (const line of list.split('\n')) {
        const name = /\bname=(\S*)/.exec(line)?.[1] ?? '';
        const id = /\bid=(\d+)/.exec(line)?.[1];
        // ioredis names them "ioredis-cluster(<role>):<the gateway's connection name>"
        if (id && name.includes(`(${role})`) && name.includes('jobstream-subscriber'))
          victims.push({ client, id });
      }
    }
    let killed = 0;
    for (const { client, id } of victims) killed += Number(await client.call('CLIENT', 'KILL', 'ID', id));
    return killed;
  }

  const replacements = async (connection: string): Promise<number> => {
    const metric = await gateway.metrics.registry
      .getSingleMetric('jobstream_redis_subscriber_replacements_total')
      ?.get();
    return metric?.values.find((v) => v.labels.connection === connection)?.value ?? 0;
  };

  it("a shard's sharded subscriber killed: a line published meanwhile still arrives, with no line after it", async () => {
    const ids = ['kilo', 'lima', 'mike', 'november', 'oscar'].map((n) => `${stack.namespace()}-${n}`);
    const client = await TestClient.connect(gateway.url, { token: token('alice') });
    await runningAndWatched(client, ids);
    const before = await replacements('sharded');
    expect(await killGatewayConnections('ssubscriber')).toBeGreaterThan(0);
    for (const id of ids) await appendLines(redis, id, [{ stream: 'stdout', line: `${id} 2` }]);
    for (const id of ids) await client.waitFor(() => client.seqs(id).length === 2, 10_000);
    for (const id of ids) expect(client.seqs(id)).toEqual([1, 2]);
    expect(await replacements('sharded')).toBeGreaterThan(before);
    // and live delivery goes on over the new connections
    for (const id of ids) await appendLines(redis, id, [{ stream: 'stdout', line: `${id} 3` }]);
    for (const id of ids) await client.waitFor(() => client.seqs(id).length === 3);
    for (const id of ids) expect(client.seqs(id)).toEqual([1, 2, 3]);
    client.close();
  }, 30_000);

  it('the feed subscriber killed: every feed watcher is told of a gap, and the feed goes on', async () => {
    const client = await TestClient.connect(gateway.url, { token: token('alice') });
    client.send({ type: 'watch', topic: 'jobs' });
    await client.waitFor((f) => f.type === 'watching');
    const before = await replacements('feed');
    expect(await killGatewayConnections('subscriber')).toBeGreaterThanOrEqual(1);
    await client.waitFor((f) => f.type === 'gap' && 'topic' in f && f.topic === 'jobs', 10_000);
    expect(await replacements('feed')).toBeGreaterThan(before);
    const id = `${stack.namespace()}-papa`;
    await createJob(redis, { id, owner: 'alice', title: id });
    await client.waitFor((f) => f.type === 'job' && f.job.id === id);
    client.close();
  }, 30_000);
});
