/**
 * The connection of a writer that numbers its work (JobPublisher): it never resends a command
 * after a reconnect and never queues one while offline (a lost reply is settled by reading the
 * job's seq instead), and it tells the writer whenever a connection dropped, on a standalone
 * Redis or any node of a Cluster — after that a reply may have been lost or a failover may have
 * happened, and the writer must look at Redis again before it goes on.
 */
import { Cluster, type Redis } from 'ioredis';
import type { RedisConnection } from './client.js';

/** Calls `onLoss` whenever a connection to a node closes (a standalone server or any Cluster node). */
export function watchConnectionLoss(redis: RedisConnection, onLoss: () => void): void {
  if (redis instanceof Cluster) {
    redis.on('+node', (node: Redis) => node.on('close', onLoss));
    redis.on('-node', onLoss);
    redis.on('node error', onLoss);
    for (const node of redis.nodes()) node.on('close', onLoss);
  } else {
    redis.on('close', onLoss);
  }
}

/** A duplicate of `redis` (standalone or Cluster) that never resends and never queues offline. */
export async function writerConnection(
  redis: RedisConnection,
  { retryMinMs, retryMaxMs }: { retryMinMs: number; retryMaxMs: number },
): Promise<RedisConnection> {
  const retry = (attempt: number): number => Math.min(retryMinMs * 2 ** attempt, retryMaxMs);
  const noResend = { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 };
  const connection: RedisConnection =
    redis instanceof Cluster
      ? // A Cluster follows a failover by itself; the seq read goes to whichever node owns the slot now.
        redis.duplicate(undefined, {
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: retry,
          redisOptions: { ...redis.options.redisOptions, ...noResend },
        })
      : redis.duplicate({ ...noResend, enableOfflineQueue: false, lazyConnect: true, retryStrategy: retry });
  connection.on('error', () => undefined); // the writer reports errors where they matter
  await connection.connect();
  return connection;
}
