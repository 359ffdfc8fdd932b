/** The Redis the library's contract tests share: a private server with small limits. */
import type { Redis } from 'ioredis';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { createJob } from '../redis/functions.js';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../redis/library.js';

/** Lines a job keeps, and seconds a finished job lives, in these tests. */
export const MAX_LINES = 50;
export const RETENTION_S = 3600;

export async function startLibraryServer(): Promise<{ server: PrivateRedis; redis: Redis }> {
  const server = await PrivateRedis.start();
  const redis = server.client();
  await loadLibrary(redis, { ...DEFAULT_LIBRARY_CONFIG, maxLines: MAX_LINES, retentionS: RETENTION_S });
  return { server, redis };
}

/** A new queued job of `owner`, under a fresh id. */
export async function newTestJob(server: PrivateRedis, redis: Redis, owner = 'alice'): Promise<string> {
  const id = `${server.namespace()}-job`;
  await createJob(redis, { id, owner, title: 'a job' });
  return id;
}
