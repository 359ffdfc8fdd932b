/**
 * Which shards of a Redis Cluster are down, for the operator (`/readyz`, `/metrics`, the log).
 * A shard whose primary failed with no replica to promote leaves its jobs unreachable while the
 * others keep serving (with `cluster-require-full-coverage no`, as docs/operations.md sets it):
 * this gateway still serves every job elsewhere, so it stays ready, and says what is wrong.
 *
 * Every interval it asks one answering primary for `CLUSTER NODES` and reports the primaries
 * flagged `fail`, with their slots. On a standalone Redis it does nothing.
 */
import { Cluster } from 'ioredis';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { withDeadline } from './connections.js';
import { repeatAfterEach, type Repeating } from '../ops/repeat.js';

export interface FailedShard {
  /** host:port of the failed primary, as the cluster knows it. */
  address: string;
  slots: string;
}

/** The failed primaries in a `CLUSTER NODES` reply. */
export function failedShards(clusterNodes: string): FailedShard[] {
  const failed: FailedShard[] = [];
  for (const line of clusterNodes.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const flags = (fields[2] ?? '').split(',');
    if (!flags.includes('master') || !flags.includes('fail')) continue;
    const slots = fields.slice(8).filter((f) => /^\d+(-\d+)?$/.test(f));
    if (slots.length === 0) continue; // a failed primary that owns nothing costs nothing
    failed.push({ address: (fields[1] ?? '').split('@')[0] ?? '', slots: slots.join(' ') });
  }
  return failed;
}

export class ClusterHealth {
  private failed: FailedShard[] = [];
  private repeating: Repeating | null = null;

  constructor(
    private readonly redis: RedisConnection,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly options: { intervalMs: number; deadlineMs: number },
  ) {}

  start(): void {
    if (!(this.redis instanceof Cluster)) return;
    this.repeating = repeatAfterEach(this.options.intervalMs, () => this.check());
  }

  stop(): void {
    void this.repeating?.stop();
    this.repeating = null;
  }

  /** What is degraded (this process still serves every other shard), or null. */
  get degradedReason(): string | null {
    if (this.failed.length === 0) return null;
    const shards = this.failed.map((s) => `${s.address} (slots ${s.slots})`).join(', ');
    return `Redis Cluster shard down with no replica to take over: ${shards}; jobs on it are paused until it returns, every other job streams`;
  }

  private async check(): Promise<void> {
    if (!(this.redis instanceof Cluster)) return;
    for (const node of this.redis.nodes('master')) {
      if (node.status !== 'ready') continue;
      let reply: string;
      try {
        reply = String(
          await withDeadline(node.call('CLUSTER', 'NODES'), this.options.deadlineMs, 'CLUSTER NODES'),
        );
      } catch {
        continue; // ask the next primary
      }
      const failed = failedShards(reply);
      const before = this.degradedReason;
      this.failed = failed;
      this.metrics.redisFailedShards.set(failed.length);
      const now = this.degradedReason;
      if (now !== before) {
        if (now) this.logger.error({ shards: failed }, now);
        else this.logger.warn({ was: before }, 'every Redis Cluster shard answers again');
      }
      return;
    }
  }
}
