/**
 * The gateway's configuration, from the environment variables of docs/operations.md (plus a few tuning
 * knobs), validated once at start-up so that a typo fails loudly instead of running misconfigured.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { LibraryConfig } from '../../../shared/redis/library.js';
import { envFlag } from '../../../shared/env-flag.js';
import { JOB_TOKEN_TTL_S } from '../limits.js';

export interface GatewayConfig {
  port: number;
  host: string;
  redisUrl: string;
  /** Set: a Redis Cluster with sharded pub/sub. */
  redisClusterNodes: string[] | null;
  /** REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS: for standalone and Cluster connections alike. */
  redisUsername?: string | undefined;
  redisPassword?: string | undefined;
  redisTls: boolean;
  jwt: JwtConfig;
  /** null: every origin (tokens are never ambient). */
  allowedOrigins: string[] | null;
  /** 0: no cap. */
  maxSocketsPerUser: number;
  library: LibraryConfig;
  heartbeatMs: number;
  maxSubscriptions: number;
  maxFrameBytes: number;
  /** Dev sign-in route, for the local demo only. */
  devAuth: boolean;
  /** Built dashboard to serve at `/`, when it exists. */
  staticDir: string | null;
  /** JOBSTREAM_RUNNER_TIMEOUT_S: a job silent this long is finished as failed ("runner lost"). */
  runnerTimeoutS: number;
  /** JOBSTREAM_CANCEL_GRACE_S: a cancelled job still unfinished this long is finished as cancelled. */
  cancelGraceS: number;
  /** The longest any reply waits on Redis; a command slower than this marks its connection dead. */
  redisDeadlineMs: number;
  /** How often the pub/sub round trip and the function library are checked. */
  livenessIntervalMs: number;
  /** How often the reaper's lease holder looks at the unfinished jobs. */
  reaperIntervalMs: number;
  /** Time between /readyz turning 503 and the first 1012, so a load balancer stops routing first. */
  shutdownDrainMs: number;
  /** JOBSTREAM_SESSION_MAX_S: no refreshed sign-in token outlives its first sign-in by more. */
  sessionMaxS: number;
  /** JOBSTREAM_JOB_TOKEN_TTL_S: how long a job token (HTTP ingest) works at most. */
  jobTokenTtlS: number;
  /** JOBSTREAM_ARCHIVE_URL and its settings; null: every line lives in Redis only. */
  archive: ArchiveConfig | null;
}

export interface ArchiveConfig {
  /** `file:///path` or `s3://bucket/prefix`. */
  url: string;
  /** JOBSTREAM_S3_ENDPOINT: a non-AWS S3 store (path-style requests, plain bodies). */
  s3Endpoint: string | null;
  /** JOBSTREAM_ARCHIVE_CHUNK_LINES: stored entries per chunk. */
  chunkLines: number;
  /** JOBSTREAM_ARCHIVE_DELAY_S: a finished job's remainder is archived within this of its finish. */
  delayS: number;
  /** How often the archiver looks for work (tuning). */
  intervalMs: number;
}

const DAY_S = 24 * 3600;

export interface JwtConfig {
  key: KeyObject;
  algorithms: ('HS256' | 'RS256' | 'ES256')[];
}

const intString = (min: number) =>
  z
    .string()
    .regex(/^\d+$/, 'a whole number')
    .transform(Number)
    .refine((n) => n >= min, `at least ${min}`);

const envSchema = z.object({
  PORT: intString(0).default(8080),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: z.string().optional(),
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_TLS: z.string().optional(),
  JWT_SECRET: z.string().min(1).optional(),
  JWT_PUBLIC_KEY: z.string().min(1).optional(),
  ALLOWED_ORIGINS: z.string().optional(),
  MAX_SOCKETS_PER_USER: intString(0).default(1000),
  JOBSTREAM_MAX_LINES: intString(1).default(100_000),
  JOBSTREAM_RETENTION_S: intString(1).optional(),
  JOBSTREAM_ARCHIVE_URL: z
    .string()
    .regex(/^(file:\/\/\/|s3:\/\/[^/]+)/, 'file:///path or s3://bucket/prefix')
    .optional(),
  JOBSTREAM_S3_ENDPOINT: z.string().url().optional(),
  JOBSTREAM_ARCHIVE_CHUNK_LINES: intString(1).default(10_000),
  JOBSTREAM_ARCHIVE_DELAY_S: intString(0).default(5),
  JOBSTREAM_HARD_MAX_LINES: intString(1).optional(),
  JOBSTREAM_HOT_RETENTION_S: intString(1).default(3600),
  ARCHIVE_INTERVAL_MS: intString(50).default(1000),
  JOBSTREAM_JOB_TOKEN_TTL_S: intString(60).default(JOB_TOKEN_TTL_S),
  JOBSTREAM_SESSION_MAX_S: intString(60).default(30 * DAY_S),
  HEARTBEAT_MS: intString(100).default(25_000),
  MAX_SUBSCRIPTIONS: intString(1).default(200),
  DEV_AUTH: z.string().optional(),
  STATIC_DIR: z.string().optional(),
  JOBSTREAM_RUNNER_TIMEOUT_S: intString(1).default(60),
  JOBSTREAM_CANCEL_GRACE_S: intString(0).default(30),
  REDIS_DEADLINE_MS: intString(100).default(3000),
  LIVENESS_INTERVAL_MS: intString(100).default(2000),
  REAPER_INTERVAL_MS: intString(100).default(5000),
  SHUTDOWN_DRAIN_MS: intString(0).default(1000),
});

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function jwtConfig(secret: string | undefined, publicKey: string | undefined): JwtConfig {
  if (secret && publicKey) throw new ConfigError('set JWT_SECRET or JWT_PUBLIC_KEY, not both');
  // A KeyObject, not a string: jsonwebtoken tries createPublicKey on a string secret on every call.
  if (secret) return { key: createSecretKey(Buffer.from(secret, 'utf8')), algorithms: ['HS256'] };
  if (publicKey) {
    const key = createPublicKey(publicKey.replace(/\\n/g, '\n'));
    const algorithm = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
    return { key, algorithms: [algorithm] };
  }
  throw new ConfigError(
    'JWT_SECRET or JWT_PUBLIC_KEY is required: the gateway refuses to run without token verification',
  );
}

const list = (value: string | undefined): string[] | null => {
  const items = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length > 0 ? items : null;
};

export function configFromEnv(env: NodeJS.ProcessEnv, staticDirDefault: string | null = null): GatewayConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`bad configuration: ${problems}`);
  }
  const e = parsed.data;
  const clusterNodes = list(e.REDIS_CLUSTER_NODES);
  const archiveUrl = e.JOBSTREAM_ARCHIVE_URL || null;
  const hardMaxLines = e.JOBSTREAM_HARD_MAX_LINES ?? 2 * e.JOBSTREAM_MAX_LINES;
  if (hardMaxLines < e.JOBSTREAM_MAX_LINES)
    throw new ConfigError('bad configuration: JOBSTREAM_HARD_MAX_LINES is below JOBSTREAM_MAX_LINES');
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: clusterNodes,
    redisUsername: e.REDIS_USERNAME || undefined,
    redisPassword: e.REDIS_PASSWORD || undefined,
    redisTls: envFlag(e.REDIS_TLS),
    jwt: jwtConfig(e.JWT_SECRET, e.JWT_PUBLIC_KEY),
    allowedOrigins: list(e.ALLOWED_ORIGINS),
    maxSocketsPerUser: e.MAX_SOCKETS_PER_USER,
    library: {
      maxLines: e.JOBSTREAM_MAX_LINES,
      // An archive keeps logs for 90 days unless told otherwise; Redis alone, for 7.
      retentionS: e.JOBSTREAM_RETENTION_S ?? (archiveUrl ? 90 * DAY_S : 7 * DAY_S),
      eventsPublish: clusterNodes ? 'spublish' : 'publish',
      archive: archiveUrl ? { hardMaxLines, hotRetentionS: e.JOBSTREAM_HOT_RETENTION_S } : null,
    },
    heartbeatMs: e.HEARTBEAT_MS,
    maxSubscriptions: e.MAX_SUBSCRIPTIONS,
    maxFrameBytes: 65_536,
    devAuth: envFlag(e.DEV_AUTH),
    staticDir: e.STATIC_DIR ?? staticDirDefault,
    runnerTimeoutS: e.JOBSTREAM_RUNNER_TIMEOUT_S,
    cancelGraceS: e.JOBSTREAM_CANCEL_GRACE_S,
    redisDeadlineMs: e.REDIS_DEADLINE_MS,
    livenessIntervalMs: e.LIVENESS_INTERVAL_MS,
    reaperIntervalMs: e.REAPER_INTERVAL_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    jobTokenTtlS: e.JOBSTREAM_JOB_TOKEN_TTL_S,
    sessionMaxS: e.JOBSTREAM_SESSION_MAX_S,
    archive: archiveUrl
      ? {
          url: archiveUrl,
          s3Endpoint: e.JOBSTREAM_S3_ENDPOINT ?? null,
          chunkLines: e.JOBSTREAM_ARCHIVE_CHUNK_LINES,
          delayS: e.JOBSTREAM_ARCHIVE_DELAY_S,
          intervalMs: e.ARCHIVE_INTERVAL_MS,
        }
      : null,
  };
}
