import type { Cluster, Redis } from 'ioredis';

/** Either kind of ioredis connection: the library works on a standalone Redis and a Cluster. */
export type RedisConnection = Redis | Cluster;
