/**
 * One way to start a jobstream stack — a private Redis (standalone or a three-primary Cluster),
 * the gateway on a free port, tokens for its secret — for tests, end-to-end tests and scripts
 * alike, so a suite can run against every topology from one definition.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { eventsChannel } from '../../shared/keys.js';
import type { Role } from '../../shared/protocol.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import { DEFAULT_LIBRARY_CONFIG, type LibraryConfig } from '../../shared/redis/library.js';
import { PrivateRedisCluster } from './private-redis-cluster.js';
import { freePort, PrivateRedis } from './private-redis.js';
import { signToken } from '../../shared/auth/tokens.js';
import { configFromEnv, type GatewayConfig } from '../../gateway/src/ops/config.js';
import { createLogger } from '../../gateway/src/ops/logger.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/src/server.js';
import { buildDashboardIfStale } from './build.js';
import { HaproxyProcess, haproxyInstalled } from './haproxy.js';

/**
 * standalone: one Redis, one gateway. cluster: a three-primary Redis Cluster, one gateway.
 * haproxy-cluster: three primaries with a replica each, three gateways behind HAProxy
 * (deploy/haproxy.cfg) — the reference deployment of docs/operations.md.
 */
export type Topology = 'standalone' | 'cluster' | 'haproxy-cluster';
export const TOPOLOGIES: readonly Topology[] = haproxyInstalled()
  ? ['standalone', 'cluster', 'haproxy-cluster']
  : ['standalone', 'cluster'];

export interface StackOptions {
  topology?: Topology;
  secret?: string;
  /** A private Redis already running, shared with another stack (standalone only). */
  redis?: PrivateRedis;
  /** Gateway settings over the defaults (library limits merged, publish mode from the topology). */
  config?: Partial<Omit<GatewayConfig, 'library'>> & { library?: Partial<LibraryConfig> };
  gateway?: Omit<GatewayOptions, 'devSecret'>;
  /** Build the dashboard when stale and serve it. */
  dashboard?: boolean;
}

export interface Stack {
  readonly topology: Topology;
  /** The standalone server (null on a cluster). */
  readonly redis: PrivateRedis | null;
  readonly cluster: PrivateRedisCluster | null;
  /** The gateway (the first of several behind HAProxy). */
  gateway: Gateway;
  /** Every gateway process of the stack. */
  readonly gateways: readonly Gateway[];
  readonly haproxy: HaproxyProcess | null;
  readonly config: GatewayConfig;
  readonly url: string;
  /** A new Redis connection of the topology's kind; `stop()` closes it. */
  client(): RedisConnection;
  /** A fresh key prefix for one test. */
  namespace(): string;
  /** A token for the stack's secret; `times` back-dates it (`iat`) or its session (`auth_time`). */
  token(sub: string, role?: Role, ttlSeconds?: number, times?: { iat?: number; auth_time?: number }): string;
  /** Redis subscribers of each job's events channel, summed over every node that may hold them. */
  channelSubscribers(jobIds: string[]): Promise<number[]>;
  /**
   * Stops the gateway (clients get 1012), runs `whileDown`, and starts it again on the same port:
   * a restart as clients see it.
   */
  restartGateway(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const topology = options.topology ?? 'standalone';
  const secret = options.secret ?? `stack-${randomUUID()}`;
  const cluster =
    topology === 'cluster'
      ? await PrivateRedisCluster.start()
      : topology === 'haproxy-cluster'
        ? await PrivateRedisCluster.start(3, { replicas: 1 })
        : null;
  const ownRedis = topology === 'standalone' && !options.redis;
  const redis = topology === 'standalone' ? (options.redis ?? (await PrivateRedis.start())) : null;
  const env = {
    JWT_SECRET: secret,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    SHUTDOWN_DRAIN_MS: '0',
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodeList } : { REDIS_URL: redis!.url }),
  };
  const base = configFromEnv(env, options.dashboard ? buildDashboardIfStale() : null);
  const config: GatewayConfig = {
    ...base,
    ...options.config,
    library: {
      ...DEFAULT_LIBRARY_CONFIG,
      eventsPublish: base.library.eventsPublish,
      ...options.config?.library,
    },
  };
  const gatewayOptions: GatewayOptions = {
    logger: createLogger('silent'),
    ...options.gateway,
    devSecret: secret,
  };
  const gateways: Gateway[] = [];
  let haproxy: HaproxyProcess | null = null;
  try {
    gateways.push(await startGateway(config, gatewayOptions));
    if (topology === 'haproxy-cluster') {
      for (let i = 1; i < 3; i++)
        gateways.push(await startGateway({ ...config, port: await freePort() }, gatewayOptions));
      haproxy = await HaproxyProcess.start(gateways.map((g) => `127.0.0.1:${g.port}`));
    }
  } catch (error) {
    // A stack that could not start leaves nothing running behind it.
    for (const g of gateways) await g.stop(500);
    if (ownRedis) await redis?.stop();
    await cluster?.stop();
    throw error;
  }
  let gateway = gateways[0]!;
  // The port is fixed from the first start on, so a restarted gateway answers at the same address.
  const fixedPort = { ...config, port: gateway.port };
  const stack: Stack = {
    topology,
    redis,
    cluster,
    get gateway() {
      return gateway;
    },
    set gateway(value) {
      gateway = value;
    },
    get gateways() {
      return gateways;
    },
    haproxy,
    config,
    url: haproxy?.url ?? gateway.url,
    client: () => (cluster ? cluster.client() : redis!.client()),
    namespace: () => `t${randomUUID().slice(0, 8)}`,
    token: (sub, role = 'user', ttlSeconds = 3600, times = {}) =>
      signToken(secret, { sub, role, ...times }, ttlSeconds),
    async channelSubscribers(jobIds) {
      const channels = jobIds.map(eventsChannel);
      const nodes: Redis[] = cluster ? cluster.nodes.map((n) => n.client()) : [redis!.client()];
      const counts = channels.map(() => 0);
      for (const node of nodes) {
        // Job events are sharded pub/sub in a cluster, classic pub/sub on a standalone Redis.
        const reply = (await node.call(
          'PUBSUB',
          cluster ? 'SHARDNUMSUB' : 'NUMSUB',
          ...channels,
        )) as unknown[];
        reply.forEach((value, i) => {
          if (i % 2 === 1) counts[(i - 1) / 2]! += Number(value);
        });
      }
      return counts;
    },
    async restartGateway(whileDown) {
      await gateway.stop(2000);
      await whileDown?.();
      gateway = await startGateway(fixedPort, gatewayOptions);
      gateways[0] = gateway;
    },
    async stop() {
      await haproxy?.stop();
      for (const g of gateways) await g.stop(2000);
      if (ownRedis) await redis!.stop();
      await cluster?.stop();
    },
  };
  return stack;
}
