/**
 * The HTTP side of the gateway, assembled: probes and metrics without a token, the demo's dev
 * sign-in, the job API, and the built dashboard at `/`. Errors are `{"error":{"code","message"}}`
 * (errors.ts).
 */
import express from 'express';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { GatewayConfig } from '../ops/config.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { dashboard } from './dashboard.js';
import { devAuth } from './dev-auth.js';
import { errorHandler, HttpError } from './errors.js';
import { jobApi } from './jobs.js';
import { ingestApi } from './ingest.js';
import { authenticator } from './authenticate.js';
import { sessionRefresh } from './session-refresh.js';
import type { StreamDeps } from './streams.js';
import { probes } from './probes.js';
import type { OutputReader } from '../archive/output-reader.js';

export interface HttpApiDeps {
  config: GatewayConfig;
  redis: RedisConnection;
  /** Reads job output from Redis and, with an archive, from the archive. */
  output: OutputReader;
  /** What HTTP streams (SSE, output.txt?follow=1) subscribe with. */
  streams: StreamDeps;
  metrics: GatewayMetrics;
  logger: Logger;
  /** For dev sign-in tokens; only set when DEV_AUTH is on and the secret is known. */
  devSecret: string | null;
  /** Why this process should get no traffic now (shutting down, Redis deaf, library lost), or null. */
  notReadyReason: () => string | null;
  /** What is degraded while this process still serves (a lost Cluster shard, a failing archive), or null. */
  degradedReason: () => string | null;
}

export function createHttpApi(deps: HttpApiDeps): express.Express {
  const { config, redis, metrics, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(
    probes({
      redis,
      metrics,
      redisDeadlineMs: config.redisDeadlineMs,
      notReadyReason: deps.notReadyReason,
      degradedReason: deps.degradedReason,
    }),
  );
  app.use(devAuth(config.devAuth ? deps.devSecret : null));
  const authenticate = authenticator(config.jwt, redis);
  app.use(ingestApi(redis, authenticate, config.jobTokenTtlS));
  app.use(sessionRefresh(authenticate, config.jwt, config.sessionMaxS));
  app.use(jobApi(redis, deps.output, authenticate, metrics, deps.streams));
  app.use('/api', (_req, _res, next) => next(new HttpError('not_found', 'no such API route')));
  const site = dashboard(config.staticDir);
  if (site) app.use(site);
  app.use((req, _res, next) => next(new HttpError('not_found', `nothing at ${req.method} ${req.path}`)));
  app.use(errorHandler(logger, metrics));
  return app;
}
