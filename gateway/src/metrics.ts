/** Prometheus metrics (prom-client), one registry per gateway so tests can run several. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class GatewayMetrics {
  readonly registry = new Registry();
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
  readonly framesOut = new Counter({
    name: 'jobstream_frames_sent_total',
    help: 'Frames sent to sockets',
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'jobstream_bytes_sent_total',
    help: 'Payload bytes sent to sockets',
    registers: [this.registry],
  });
  readonly linesDelivered = new Counter({
    name: 'jobstream_lines_delivered_total',
    help: 'Output lines sent to sockets (live and replay)',
    registers: [this.registry],
  });
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
    help: 'Redis timestamp of a live line to its send by the gateway',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly rejections = new Counter({
    name: 'jobstream_rejections_total',
    help: 'Refused upgrades, frames and requests, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
