/**
 * The gateway: one HTTP server carrying the express API and the `ws` endpoint, two Redis
 * connections (commands, and a subscriber for the fan-out) watched by a liveness probe, the
 * function library loaded with this deployment's limits and kept loaded, the reaper of jobs whose
 * runner vanished, a heartbeat, metrics, and a graceful stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOSE_CODES } from '../../shared/protocol.js';
import { loadLibrary } from '../../shared/redis/library.js';
import type { GatewayConfig } from './ops/config.js';
import { Fanout } from './stream/fanout.js';
import { startHeartbeat } from './stream/heartbeat.js';
import { createHttpApi } from './http/app.js';
import { IdleConnections } from './http/idle-connections.js';
import { pruneIndex } from './http/job-list.js';
import { LibraryKeeper } from './redis/library-keeper.js';
import { LISTEN_BACKLOG } from './limits.js';
import { RedisLiveness } from './redis/liveness.js';
import { ClusterHealth } from './redis/cluster-health.js';
import { createLogger, type Logger } from './ops/logger.js';
import { GatewayMetrics } from './ops/metrics.js';
import { Reaper } from './ops/reaper.js';
import { connectRedis } from './redis/connections.js';
import { Session } from './stream/session.js';
import { SocketAcceptor } from './stream/socket-acceptor.js';
import { systemClock, TokenExpiry, type Clock } from './auth/token-expiry.js';
import { WriteCoalescer } from './stream/write-coalescer.js';
import { repeatAfterEach } from './ops/repeat.js';
import { OutputReader } from './archive/output-reader.js';
import { Archiver } from './archive/archiver.js';
import { openArchiveStore } from './archive/store.js';
import { SocketQuota } from './stream/socket-quota.js';
import type { ResponseSocket } from './http/event-stream.js';

export interface GatewayOptions {
  logger?: Logger;
  /** The HS256 secret as text, for the dev sign-in route (DEV_AUTH). */
  devSecret?: string | null;
  /** Time as the gateway sees it, for token checks (tests move it forward). */
  clock?: Clock;
  /** How often token expiry is checked (tests make it short). */
  expiryTickMs?: number;
}

export interface Gateway {
  readonly port: number;
  readonly url: string;
  readonly metrics: GatewayMetrics;
  /** Open sockets (for tests and metrics). */
  readonly sessions: ReadonlySet<Session>;
  readonly fanout: Fanout;
  readonly reaper: Reaper;
  /** Set when JOBSTREAM_ARCHIVE_URL is. */
  readonly archiver: Archiver | null;
  /**
   * Turns /readyz to 503 and refuses new sockets, waits `shutdownDrainMs` (a load balancer stops
   * routing here), then closes every socket with 1012 and quits Redis. Resolves within
   * `shutdownDrainMs + deadlineMs`.
   */
  stop(deadlineMs?: number): Promise<void>;
}

export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger();
  const metrics = new GatewayMetrics();
  const redis = connectRedis(config, 'commands', logger);
  const subscriber = connectRedis(config, 'subscriber', logger);
  await loadLibrary(redis, config.library);
  metrics.libraryLoads.inc({ reason: 'start' });
  const fanout = new Fanout(subscriber, metrics, logger);
  const health = { intervalMs: config.livenessIntervalMs, deadlineMs: config.redisDeadlineMs };
  const liveness = new RedisLiveness(redis, subscriber, metrics, logger, health);
  await liveness.start();
  const libraryKeeper = new LibraryKeeper(redis, config.library, metrics, logger, health);
  libraryKeeper.start();
  const clusterHealth = new ClusterHealth(redis, metrics, logger, health);
  clusterHealth.start();
  const reaper = new Reaper(
    redis,
    {
      runnerTimeoutS: config.runnerTimeoutS,
      cancelGraceS: config.cancelGraceS,
      intervalMs: config.reaperIntervalMs,
      archive: config.archive !== null,
    },
    metrics,
    logger,
  );
  await fanout.watchFeed(reaper); // keeps jobs:active honest from the feed
  reaper.start();
  const archiveStore = config.archive ? openArchiveStore(config.archive) : null;
  const output = new OutputReader(
    redis,
    archiveStore ? { store: archiveStore, metrics: metrics.archive } : null,
  );
  const archiver =
    config.archive && archiveStore
      ? new Archiver(
          redis,
          archiveStore,
          { ...config.archive, retentionS: config.library.retentionS },
          metrics.archive,
          logger,
        )
      : null;
  archiver?.start();

  const clock = options.clock ?? systemClock;
  const tokenExpiry = new TokenExpiry<Session>(
    clock,
    (session) => session.close(CLOSE_CODES.tokenExpired, 'token expired'),
    options.expiryTickMs,
  );
  let stopping = false;
  /** Why this process should not get traffic now, or null (GET /readyz). */
  const notReadyReason = (): string | null =>
    stopping ? 'shutting down' : (liveness.unhealthyReason ?? libraryKeeper.unhealthyReason);
  const quota = new SocketQuota();
  const openStreams = new Set<ResponseSocket>();
  const app = createHttpApi({
    config,
    redis,
    output,
    streams: {
      redis,
      output,
      fanout,
      metrics,
      logger,
      quota,
      maxSocketsPerUser: config.maxSocketsPerUser,
      redisDeadlineMs: config.redisDeadlineMs,
      open: openStreams,
    },
    metrics,
    logger,
    devSecret: options.devSecret ?? null,
    notReadyReason,
    degradedReason: () =>
      clusterHealth.degradedReason ?? libraryKeeper.degradedReason ?? archiver?.degradedReason ?? null,
  });
  const server: Server = createServer(app);
  const httpConnections = new IdleConnections(server);

  const acceptor = new SocketAcceptor(
    { config, clock, metrics, logger, refusing: () => (stopping ? 'shutting down' : null), quota },
    {
      redis,
      output,
      fanout,
      metrics,
      logger,
      jwt: config.jwt,
      maxSubscriptions: config.maxSubscriptions,
      redisDeadlineMs: config.redisDeadlineMs,
      onRedisTimeout: () => liveness.commandTimedOut(),
      clock,
      tokenExpiry,
      writes: new WriteCoalescer(),
    },
  );
  const { sessions } = acceptor;
  server.on('upgrade', acceptor.upgrade);

  const stopHeartbeat = startHeartbeat(() => sessions, config.heartbeatMs);
  // Never two prunes at once, however slow Redis is (ops/repeat.ts).
  const pruning = repeatAfterEach(60_000, () =>
    pruneIndex(redis, config.library.retentionS).then(
      () => undefined,
      () => undefined,
    ),
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info(
    { port, redis: config.redisClusterNodes ?? config.redisUrl, archive: archiveStore?.description ?? null },
    'gateway listening',
  );

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    metrics,
    sessions,
    fanout,
    reaper,
    archiver,
    async stop(deadlineMs = 10_000) {
      if (stopping) return;
      stopping = true; // /readyz answers 503 and upgrades are refused from here on
      logger.info({ drainMs: config.shutdownDrainMs }, 'shutting down: not ready');
      if (config.shutdownDrainMs > 0) await sleep(config.shutdownDrainMs);
      stopHeartbeat();
      tokenExpiry.stop();
      void pruning.stop();
      liveness.stop();
      libraryKeeper.stop();
      clusterHealth.stop();
      await reaper.stop(); // gives the lease up, so another process reaps at once
      await archiver?.stop(); // a chunk under way is finished and recorded (or its claim lapses)
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close(CLOSE_CODES.serviceRestart, 'server restarting');
      httpConnections.closeAll();
      for (const stream of openStreams) stream.shutdown();
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
      await Promise.race([closed, deadline]);
      for (const session of sessions) session.terminate();
      server.closeAllConnections();
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
      logger.info('gateway stopped');
    },
  };
}
