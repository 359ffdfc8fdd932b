/**
 * Connecting to Redis from the environment of docs/operations.md's configuration, the same way
 * for the gateway and every runner: `REDIS_CLUSTER_NODES` (a Cluster) or `REDIS_URL` (standalone,
 * default redis://127.0.0.1:6379), and `REDIS_USERNAME`, `REDIS_PASSWORD`, `REDIS_TLS` for both.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConnection } from './client.js';
import { envFlag } from '../env-flag.js';

export interface RedisTarget {
  url: string;
  /** `host:port` of Cluster nodes; set, the connection is a Cluster. */
  clusterNodes: string[] | null;
  username?: string | undefined;
  password?: string | undefined;
  tls: boolean;
}

export function redisTargetFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTarget {
  const nodes = (env.REDIS_CLUSTER_NODES ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return {
    url: env.REDIS_URL || 'redis://127.0.0.1:6379',
    clusterNodes: nodes.length > 0 ? nodes : null,
    username: env.REDIS_USERNAME || undefined,
    password: env.REDIS_PASSWORD || undefined,
    tls: envFlag(env.REDIS_TLS),
  };
}

/** Where a target points, for messages (never with its password). */
export const describeTarget = (target: RedisTarget): string =>
  target.clusterNodes
    ? `the Redis Cluster at ${target.clusterNodes.join(',')}`
    : `Redis at ${new URL(target.url).host}`;

/**
 * A connection to the target. `options` apply to every node; `clusterOptions` only to a Cluster
 * (ioredis takes node options under `redisOptions` there).
 */
export function connectTo(
  target: RedisTarget,
  options: RedisOptions = {},
  clusterOptions: Omit<ClusterOptions, 'redisOptions'> = {},
): RedisConnection {
  const auth: RedisOptions = {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
  if (target.clusterNodes) {
    const nodes = target.clusterNodes.map((node) => {
      const [host, port] = node.split(':');
      return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
    });
    // No ready check: ioredis's refuses a (re)connection while `CLUSTER INFO` says
    // cluster_state:fail, so with one shard lost (and cluster-require-full-coverage no, which
    // keeps the other shards serving) a connection that reconnected would never be usable again
    // until that shard returned. The gateway's own checks (liveness, library) say when it is ready.
    return new Cluster(nodes, {
      enableReadyCheck: false,
      ...clusterOptions,
      redisOptions: { ...auth, ...options },
    });
  }
  return new Redis(target.url, { ...auth, ...options });
}
