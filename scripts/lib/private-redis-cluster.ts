/**
 * A private Redis Cluster for a test file or a script (replicas and AOF on request), built
 * with `redis-cli --cluster create`, stopped afterwards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { PrivateRedis } from './private-redis.js';
import { createCluster } from './redis-server-args.js';

/** A one-off connection to a node that may be down: no retries, errors only as rejections. */
function probeClient(node: PrivateRedis) {
  const client = node.client({ lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  return client;
}

export class PrivateRedisCluster {
  private readonly clients = new Set<Cluster>();

  private constructor(readonly nodes: PrivateRedis[]) {}

  /**
   * `primaries` primaries, each with `replicas` replicas (`redis-cli --cluster create
   * --cluster-replicas`); a short node timeout lets a replica take over quickly in tests.
   */
  static async start(
    primaries = 3,
    {
      replicas = 0,
      nodeTimeoutMs = 2000,
      aof = false,
    }: { replicas?: number; nodeTimeoutMs?: number; aof?: boolean } = {},
  ): Promise<PrivateRedisCluster> {
    const nodes = await Promise.all(
      Array.from({ length: primaries * (1 + replicas) }, () =>
        PrivateRedis.start({ cluster: true, clusterNodeTimeoutMs: nodeTimeoutMs, aof }),
      ),
    );
    createCluster(
      nodes.map((n) => n.port),
      replicas,
    );
    const cluster = new PrivateRedisCluster(nodes);
    // Ready when every node agrees the cluster is ok (slots assigned and gossiped) and every
    // replica is attached and in sync (before that, a dead primary would have no one to take over).
    await cluster.untilOk(15_000);
    if (replicas > 0) await cluster.untilReplicated(primaries * replicas, 30_000);
    return cluster;
  }

  /** The node serving `port`. */
  node(port: number): PrivateRedis {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no node of this cluster listens on ${port}`);
    return node;
  }

  /**
   * The primary that owns `key`'s slot now (`CLUSTER SLOTS`, asked of the first live node) and
   * its replicas (the primary's own `INFO replication`: gossip may not have told every node yet).
   */
  async shardOf(key: string): Promise<{ primary: number; replicas: number[] }> {
    for (const node of this.nodes) {
      const client = probeClient(node);
      try {
        await client.connect();
        const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
        type Node = [host: string, port: number, id: string];
        const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, Node, ...Node[]][];
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) continue;
        const primary = range[2][1];
        const primaryClient = probeClient(this.node(primary));
        await primaryClient.connect();
        const info = await primaryClient.info('replication').finally(() => primaryClient.disconnect());
        const replicas = [...info.matchAll(/^slave\d+:.*port=(\d+)/gm)].map((m) => Number(m[1]));
        return { primary, replicas };
      } catch {
        // this node is down: ask the next
      } finally {
        client.disconnect();
      }
    }
    throw new Error(`no live node knows who owns ${key}`);
  }

  /** Resolves when every running node says `cluster_state:ok` (after a failover, say). */
  async untilOk(timeoutMs = 30_000, running: PrivateRedis[] = this.nodes): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        running.map(async (n) => {
          const client = probeClient(n);
          try {
            await client.connect();
            return (await client.call('CLUSTER', 'INFO')) as string;
          } catch {
            return '';
          } finally {
            client.disconnect();
          }
        }),
      );
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error('the cluster did not become ok');
      await sleep(100);
    }
  }

  /** Resolves when `count` replicas report their link to the primary up. */
  private async untilReplicated(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(this.nodes.map((n) => n.client().info('replication')));
      const synced = infos.filter(
        (info) => info.includes('role:slave') && info.includes('master_link_status:up'),
      );
      if (synced.length >= count) return;
      if (Date.now() > deadline) throw new Error(`only ${synced.length} of ${count} replicas are in sync`);
      await sleep(100);
    }
  }

  /** `host:port,…` as REDIS_CLUSTER_NODES takes it. */
  get nodeList(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** A cluster connection that `stop()` closes. */
  client(): Cluster {
    const client = new Cluster(this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    this.clients.add(client);
    return client;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
