/**
 * The gateway's two Redis connections (commands, and a subscriber for the fan-out), on a
 * standalone Redis or a Redis Cluster, and the one rule every reply follows: nothing waits on
 * Redis longer than the deadline. A command past it is rejected (ioredis `commandTimeout`), and
 * the liveness check (liveness.ts) reconnects a connection that stopped answering.
 */
import { Cluster } from 'ioredis';
import type { RedisConnection } from '../../../shared/redis/client.js';
import { throttleSubscriberRefresh } from './ioredis-internals.js';
import { connectTo } from '../../../shared/redis/connect.js';
import type { GatewayConfig } from '../ops/config.js';
import type { Logger } from '../ops/logger.js';

export type ConnectionRole = 'commands' | 'subscriber';

export function connectRedis(config: GatewayConfig, role: ConnectionRole, logger: Logger): RedisConnection {
  const common = {
    connectionName: `jobstream-${role}`,
    commandTimeout: config.redisDeadlineMs,
    // ioredis ≥ 5.8.2 sends CLIENT SETINFO before its ready check; a SUBSCRIBE issued while the
    // connection is still handshaking can then race the check's INFO and fail the connection
    // ("Connection in subscriber mode", redis/ioredis#2037). The maintainers' workaround:
    disableClientInfo: true,
  };
  const target = {
    url: config.redisUrl,
    clusterNodes: config.redisClusterNodes,
    username: config.redisUsername,
    password: config.redisPassword,
    tls: config.redisTls,
  };
  // Re-subscribing after a reconnect is the fan-out's and the liveness probe's own, never
  // ioredis's: its automatic re-SUBSCRIBE is a promise nobody awaits, so a Redis slower than the
  // command timeout right after a reconnect rejected it unhandled and the process exited. (On a
  // Cluster, ioredis's ClusterSubscriber re-subscribes with its own catch; the option is for the
  // standalone subscriber.)
  const autoResubscribe = !(role === 'subscriber' && !config.redisClusterNodes);
  // shardedSubscribers: SSUBSCRIBE must reach the shard that owns the channel's slot.
  const connection = connectTo(
    target,
    { ...common, maxRetriesPerRequest: 2, autoResubscribe },
    { shardedSubscribers: true },
  );
  connection.on('error', (error: Error) =>
    logger.warn({ err: error.message, role }, 'Redis connection error'),
  );
  if (connection instanceof Cluster && role === 'subscriber' && !throttleSubscriberRefresh(connection))
    logger.warn(
      "this ioredis's sharded-subscriber refresh is not the one known (ioredis-internals.ts): left as it is; a lost shard may make the gateway spin",
    );
  return connection;
}

/** Rejected by `withDeadline`: Redis did not answer in time. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/** `promise`, or a DeadlineError after `ms`; the losing promise's outcome is ignored. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what}: Redis did not answer within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A reply that did not come in time (ours, or ioredis's commandTimeout). */
export function isTimeout(error: unknown): boolean {
  return error instanceof DeadlineError || (error instanceof Error && error.message === 'Command timed out');
}
