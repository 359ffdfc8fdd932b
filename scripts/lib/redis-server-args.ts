/**
 * How this project starts redis-server and joins nodes into a Redis Cluster, one definition for
 * the test launchers (private-redis.ts, private-redis-cluster.ts) and the reference deployment
 * (scripts/topology.ts): loopback only, no snapshots, and for a Cluster
 * `cluster-require-full-coverage no`, so a lost shard pauses only its own jobs
 * (docs/operations.md).
 */
import { execFileSync } from 'node:child_process';

export interface RedisServerOptions {
  port: number;
  dir: string;
  /** `appendonly yes` with fsync always, so data survives a restart. */
  aof?: boolean;
  /** A Cluster node, with this node timeout (a short one lets a replica take over quickly). */
  cluster?: { nodeTimeoutMs?: number | undefined };
}

export function redisServerArgs({ port, dir, aof = false, cluster }: RedisServerOptions): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
    '--appendonly',
    aof ? 'yes' : 'no',
    '--appendfsync',
    'always',
    ...(cluster
      ? [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-require-full-coverage',
          'no',
          ...(cluster.nodeTimeoutMs ? ['--cluster-node-timeout', String(cluster.nodeTimeoutMs)] : []),
        ]
      : []),
  ];
}

/** Joins running cluster-enabled nodes into one Cluster, `replicas` replicas per primary. */
export function createCluster(ports: readonly number[], replicas: number): void {
  execFileSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ],
    { stdio: 'ignore' },
  );
}
