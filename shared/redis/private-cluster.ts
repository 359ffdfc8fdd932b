/**
 * A private three-primary Redis Cluster for a test file or a script (no replicas, no persistence), built
 * with `redis-cli --cluster create`, stopped afterwards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { Cluster } from 'ioredis';
import { PrivateRedis } from './private-server.js';

export class PrivateRedisCluster {
  private readonly clients = new Set<Cluster>();

  private constructor(readonly nodes: PrivateRedis[]) {}

  /**
   * `primaries` primaries, each with `replicas` replicas (`redis-cli --cluster create
   * --cluster-replicas`); a short node timeout lets a replica take over quickly in tests.
   */
  static async start(
    primaries = 3,
    { replicas = 0, nodeTimeoutMs = 2000 }: { replicas?: number; nodeTimeoutMs?: number } = {},
  ): Promise<PrivateRedisCluster> {
    const nodes = await Promise.all(
      Array.from({ length: primaries * (1 + replicas) }, () =>
        PrivateRedis.start({ cluster: true, clusterNodeTimeoutMs: nodeTimeoutMs }),
      ),
    );
    execFileSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      {
        stdio: 'ignore',
      },
    );
    const cluster = new PrivateRedisCluster(nodes);
    // Ready when every node agrees the cluster is ok (slots assigned and gossiped).
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(
        nodes.map(async (n) => (await n.client().call('CLUSTER', 'INFO')) as string),
      );
      if (states.every((s) => s.includes('cluster_state:ok'))) return cluster;
      if (Date.now() > deadline) throw new Error('the test cluster did not become ok');
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
