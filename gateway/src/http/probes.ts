/**
 * What needs no token: `/healthz` (the process is up), `/readyz` (this process should get traffic:
 * Redis answers the liveness probe, the function library is loaded, no shutdown under way; 200
 * with `"status":"degraded"` and the reason while a lost Cluster shard pauses some jobs) and
 * `/metrics` (Prometheus).
 */
import { Router } from 'express';
import type { RedisConnection } from '../../../shared/redis/client.js';
import { LIBRARY_VERSION, loadedLibrary } from '../../../shared/redis/library.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { withDeadline } from '../redis/connections.js';

export interface ProbeDeps {
  redis: RedisConnection;
  metrics: GatewayMetrics;
  redisDeadlineMs: number;
  /** Why this process should get no traffic now (shutting down, Redis deaf, library lost), or null. */
  notReadyReason: () => string | null;
  /** What is wrong while this process still serves (a lost Cluster shard), or null: still 200. */
  degradedReason: () => string | null;
}

export function probes({
  redis,
  metrics,
  redisDeadlineMs,
  notReadyReason,
  degradedReason,
}: ProbeDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      const notReady = notReadyReason();
      if (notReady) throw new Error(notReady);
      const library = await withDeadline(loadedLibrary(redis), redisDeadlineMs, 'readyz');
      if (!library || library.version < LIBRARY_VERSION)
        throw new Error('the jobstream function library is not loaded');
      const degraded = degradedReason();
      res.json(degraded ? { status: 'degraded', reason: degraded, library } : { status: 'ready', library });
    } catch (error) {
      res.status(503).json({ error: { code: 'unavailable', message: (error as Error).message } });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
