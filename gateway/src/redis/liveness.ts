/**
 * Redis liveness: finds a connection that went silent without closing, which TCP keepalive does
 * not notice (the peer still ACKs) and ioredis's `commandTimeout` only reports per command.
 *
 * Every `intervalMs` it publishes a token on a channel of this process's own through the command
 * connection and expects it back on the subscriber within `deadlineMs`:
 * - the PUBLISH gets no reply: the command connection is deaf; it is torn down and reconnected;
 * - the reply comes but the token does not: the subscriber is deaf; it is torn down and
 *   reconnected, and the fan-out's reconnect path re-confirms every channel, tells every
 *   subscription to catch up from its list and every feed watcher that it may have missed changes.
 * While either is failing `/readyz` answers 503 with the reason, and every failure is counted.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { withDeadline, type ConnectionRole } from './connections.js';

/** The next probe after a failed one. */
const RECHECK_MS = 500;

export interface LivenessOptions {
  intervalMs: number;
  deadlineMs: number;
}

export class RedisLiveness {
  /** Where the probe travels; one channel per process, so gateways never answer each other. */
  readonly channel = `jobstream:liveness:${randomUUID()}`;
  private problem: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  private probeCount = 0;
  private echo: { token: string; arrived: () => void } | null = null;

  constructor(
    private readonly commands: RedisConnection,
    private readonly subscriber: RedisConnection,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly options: LivenessOptions,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel && this.echo?.token === message) this.echo.arrived();
    });
    // The standalone subscriber does not re-subscribe by itself (redis-connections.ts): the probe
    // channel is ours to take again. A failure is the next probe's to find (no echo: reconnect).
    if (subscriber instanceof Redis)
      subscriber.on('ready', () => {
        if (!this.started || this.stopped) return;
        subscriber
          .subscribe(this.channel)
          .catch((error: unknown) =>
            this.logger.warn({ err: (error as Error).message }, 'liveness re-SUBSCRIBE failed'),
          );
      });
  }

  /** Subscribes to the probe channel and starts probing. */
  async start(): Promise<void> {
    await withDeadline(
      this.subscriber.subscribe(this.channel),
      this.options.deadlineMs,
      'liveness SUBSCRIBE',
    );
    this.started = true;
    this.metrics.redisHealthy.set(1);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Why Redis cannot be relied on right now, or null when the last probe went round. */
  get unhealthyReason(): string | null {
    return this.problem;
  }

  /** A command of ours timed out elsewhere: the command connection may be deaf; probe now. */
  commandTimedOut(): void {
    if (this.stopped || this.timer === null) return; // a probe is under way: it will see it
    clearTimeout(this.timer);
    this.timer = null;
    void this.probe();
  }

  private schedule(delayMs = this.options.intervalMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probe();
    }, delayMs);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    const startedAt = performance.now();
    const token = `${process.pid}-${++this.probeCount}`;
    const echoed = new Promise<void>((resolve) => (this.echo = { token, arrived: resolve }));
    const { deadlineMs } = this.options;
    let healthy = false;
    try {
      // Both connections at once, so two deaf ones are found within one deadline, not two.
      const [published, pinged] = await Promise.allSettled([
        withDeadline(this.commands.publish(this.channel, token), deadlineMs, 'liveness PUBLISH'),
        // A standalone subscriber answers PING in subscriber mode; a Cluster's PING would go
        // through another connection, so there the echo alone speaks for the subscriber.
        this.subscriber instanceof Redis
          ? withDeadline(this.subscriber.ping(), deadlineMs, 'liveness PING')
          : Promise.resolve('PONG'),
      ]);
      if (published.status === 'rejected')
        this.fail('commands', `the Redis command connection did not answer (${String(published.reason)})`);
      if (pinged.status === 'rejected')
        this.fail('subscriber', `the Redis subscriber did not answer (${String(pinged.reason)})`);
      if (published.status === 'rejected' || pinged.status === 'rejected') return;
      try {
        await withDeadline(echoed, deadlineMs, 'liveness echo');
      } catch {
        this.fail('subscriber', `the Redis subscriber did not receive a message within ${deadlineMs} ms`);
        return;
      }
      healthy = true;
      if (this.problem) this.logger.warn({ was: this.problem }, 'Redis answers again');
      this.problem = null;
      this.metrics.redisHealthy.set(1);
      this.metrics.livenessRoundTripSeconds.observe((performance.now() - startedAt) / 1000);
    } finally {
      this.echo = null;
      // After a failure, look again soon: recovery (or the other connection's state) shows at once.
      this.schedule(healthy ? this.options.intervalMs : Math.min(this.options.intervalMs, RECHECK_MS));
    }
  }

  private fail(role: ConnectionRole, reason: string): void {
    this.problem = reason;
    this.metrics.redisHealthy.set(0);
    this.metrics.livenessFailures.inc({ connection: role });
    const connection = role === 'commands' ? this.commands : this.subscriber;
    // Only a connection that believes it is fine needs tearing down; one already reconnecting is at it.
    if (connection.status !== 'ready') {
      this.logger.warn(
        { connection: role, status: connection.status, reason },
        'Redis liveness probe failed',
      );
      return;
    }
    this.logger.error({ connection: role, reason }, 'Redis connection is deaf; reconnecting it');
    this.metrics.redisReconnects.inc({ connection: role });
    connection.disconnect(true);
  }
}
