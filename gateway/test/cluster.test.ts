/**
 * The gateway on a Redis Cluster: the library loaded on every primary with SPUBLISH for job
 * events, sharded subscriptions per job, the feed by classic pub/sub.
 */
import { spawnJobrun } from '../../scripts/lib/jobrun-process.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobPublisher } from '../../shared/publisher.js';
import { appendLines, createJob, getJob, requestCancel, setJobStatus } from '../../shared/redis/functions.js';
import { loadedLibrary } from '../../shared/redis/library.js';
import { startStack, type Stack } from '../../scripts/lib/stack.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import type { PrivateRedisCluster } from '../../shared/redis/private-cluster.js';
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
  for (const id of ids) {
    await createJob(redis, { id, owner: 'alice', title: id });
    await setJobStatus(redis, id, 'running');
    await appendLines(redis, id, [{ stream: 'stdout', line: `${id} 1` }]);
    client.send({ type: 'subscribe', jobId: id });
  }
  for (const id of ids) await client.waitFor(() => client.seqs(id).length === 1);
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
