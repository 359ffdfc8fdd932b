/**
 * Prometheus metrics (prom-client), one registry per gateway so tests can run several.
 * The per-send counters are plain numbers on the hot path (a prom-client `inc` per socket send
 * cost more than the send bookkeeping itself); they are read into their counters at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { malformedEntries } from '../redis/store.js';
import { ArchiveMetrics } from '../archive/archive-metrics.js';

/** Totals bumped on every send; exported by `collect()` when /metrics is scraped. */
export interface SendTotals {
  frames: number;
  bytes: number;
  lines: number;
}

function totalCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly sent: SendTotals = { frames: 0, bytes: 0, lines: 0 };
  readonly sockets = new Gauge({
    name: 'jobstream_sockets',
    help: 'Open WebSockets',
    registers: [this.registry],
  });
  readonly subscriptions = new Gauge({
    name: 'jobstream_subscriptions',
    help: 'Job subscriptions over all sockets',
    registers: [this.registry],
  });
  readonly watchedJobs = new Gauge({
    name: 'jobstream_watched_jobs',
    help: 'Jobs with a Redis subscription in this process',
    registers: [this.registry],
  });
  readonly framesOut = totalCounter(
    this.registry,
    'jobstream_frames_sent_total',
    'Frames sent to sockets',
    () => this.sent.frames,
  );
  readonly bytesOut = totalCounter(
    this.registry,
    'jobstream_bytes_sent_total',
    'Payload bytes sent to sockets',
    () => this.sent.bytes,
  );
  readonly linesDelivered = totalCounter(
    this.registry,
    'jobstream_lines_delivered_total',
    'Output lines sent to sockets (live and replay)',
    () => this.sent.lines,
  );
  readonly replayLines = new Histogram({
    name: 'jobstream_replay_lines',
    help: 'Lines replayed per subscription',
    buckets: [0, 10, 100, 1000, 10_000, 100_000],
    registers: [this.registry],
  });
  readonly replaySeconds = new Histogram({
    name: 'jobstream_replay_seconds',
    help: 'Time from subscribe to the end of the replay',
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
    registers: [this.registry],
  });
  readonly publishToSendSeconds = new Histogram({
    name: 'jobstream_publish_to_send_seconds',
    help: 'Redis timestamp of a published batch to its fan-out by the gateway (once per message)',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly rejections = new Counter({
    name: 'jobstream_rejections_total',
    help: 'Refused upgrades, frames and requests, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  // ---- degraded states: what an operator needs to see (docs/protocol.md "HTTP API", /metrics) ----
  readonly redisHealthy = new Gauge({
    name: 'jobstream_redis_healthy',
    help: '1 while the last liveness probe went round (PUBLISH on the command connection, received on the subscriber)',
    registers: [this.registry],
  });
  readonly redisFailedShards = new Gauge({
    name: 'jobstream_redis_failed_shards',
    help: 'Redis Cluster primaries flagged fail with slots and no replica promoted (their jobs are paused)',
    registers: [this.registry],
  });
  readonly livenessFailures = new Counter({
    name: 'jobstream_liveness_failures_total',
    help: 'Liveness probes that failed, by the connection found deaf',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });
  readonly livenessRoundTripSeconds = new Histogram({
    name: 'jobstream_liveness_round_trip_seconds',
    help: 'Time for a liveness probe to go from PUBLISH to the subscriber',
    buckets: [0.0005, 0.001, 0.005, 0.02, 0.1, 0.5, 2],
    registers: [this.registry],
  });
  readonly redisReconnects = new Counter({
    name: 'jobstream_redis_forced_reconnects_total',
    help: 'Redis connections torn down and reconnected because they stopped answering',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });
  readonly libraryLoads = new Counter({
    name: 'jobstream_library_reloads_total',
    help: 'Times the function library was found missing on a Redis node and loaded again',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly reaperFinished = new Counter({
    name: 'jobstream_reaper_finished_total',
    help: 'Jobs the reaper finished: failed (runner lost) or cancelled (cancel not acted on)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly reaperLeaseHeld = new Gauge({
    name: 'jobstream_reaper_lease_held',
    help: '1 while this process holds the reaper lease (exactly one process should)',
    labelNames: ['holder'] as const,
    registers: [this.registry],
  });
  readonly subscriberReplacements = new Counter({
    name: 'jobstream_redis_subscriber_replacements_total',
    help: 'Redis Cluster subscriber connections ioredis replaced under a Cluster that stayed up (their jobs, or the feed, then caught up)',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });
  readonly feedGaps = new Counter({
    name: 'jobstream_feed_gaps_total',
    help: 'Feed gap frames sent to watchers after the subscriber reconnected',
    registers: [this.registry],
  });
  readonly malformedEntries = totalCounter(
    this.registry,
    'jobstream_malformed_entries_total',
    "Stored list entries not in the library's form (written around it), read as an error line at their seq",
    () => malformedEntries.count,
  );
  readonly searchesRunning = new Gauge({
    name: 'jobstream_searches_running',
    help: 'Log searches running now (bounded per user and per process; limits.ts SEARCH_CONCURRENCY)',
    registers: [this.registry],
  });
  readonly searchesRefused = new Counter({
    name: 'jobstream_searches_refused_total',
    help: 'Log searches refused with 429 because too many were running',
    registers: [this.registry],
  });
  readonly unexpectedRejections = new Counter({
    name: 'jobstream_unexpected_rejections_total',
    help: 'Promise rejections nobody handled: logged and survived (each one is a bug to report)',
    registers: [this.registry],
  });

  readonly archive = new ArchiveMetrics(this.registry);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
