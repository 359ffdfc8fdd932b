/**
 * Keeps the `jobstream` function library loaded (docs/architecture.md, "What lives in Redis": "The library is the gateway's to keep
 * loaded"). Redis can lose it — a restart without persistence, a new or failed-over Cluster node —
 * and then every runner's FCALL fails with "Function not found". The keeper checks every node
 * that must hold it when the command connection (re)connects and every `intervalMs`, and loads
 * it again with this gateway's configuration wherever it is missing or older. `/readyz` follows
 * what it last saw: 503 when no node could be checked, `degraded` when some could not. A Cluster
 * primary that does not answer (a shard being lost, or coming back) is that shard's trouble, not
 * a reason to take this gateway out of its load balancer while it serves every other shard.
 */
import type { Redis } from 'ioredis';
import type { RedisConnection } from '../../../shared/redis/client.js';
import {
  LIBRARY_VERSION,
  libraryNodes,
  loadedLibrary,
  loadLibraryOn,
  type LibraryConfig,
} from '../../../shared/redis/library.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { withDeadline } from './connections.js';
import { repeatAfterEach, type Repeating } from '../ops/repeat.js';

export class LibraryKeeper {
  private problem: string | null = null;
  private unchecked: string | null = null;
  private checking: Promise<void> | null = null;
  private repeating: Repeating | null = null;

  constructor(
    private readonly redis: RedisConnection,
    private readonly config: LibraryConfig,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly options: { intervalMs: number; deadlineMs: number },
  ) {}

  /** Starts checking; the first load (with REPLACE: this configuration wins) is the caller's. */
  start(): void {
    this.redis.on('ready', () => void this.check('reconnect'));
    this.repeating = repeatAfterEach(this.options.intervalMs, () => this.check('missing'));
  }

  stop(): void {
    void this.repeating?.stop();
  }

  /** Why the library cannot be relied on right now (no node could be checked), or null. */
  get unhealthyReason(): string | null {
    return this.problem;
  }

  /** Which nodes the last check could not reach or load, while others answered; or null. */
  get degradedReason(): string | null {
    return this.unchecked;
  }

  /** Loads the library on every node that lacks it (or holds an older version). */
  check(reason: 'missing' | 'reconnect'): Promise<void> {
    this.checking ??= this.checkNodes(reason).finally(() => (this.checking = null));
    return this.checking;
  }

  private async checkNodes(reason: 'missing' | 'reconnect'): Promise<void> {
    let nodes: Redis[];
    try {
      nodes = await withDeadline(libraryNodes(this.redis), this.options.deadlineMs, 'cluster nodes');
    } catch (error) {
      this.problem = `the jobstream function library could not be checked or loaded (${(error as Error).message})`;
      this.unchecked = null;
      return;
    }
    const failures: string[] = [];
    for (const node of nodes) {
      try {
        await this.checkNode(node, reason);
      } catch (error) {
        failures.push(`${node.options.host}:${node.options.port} (${(error as Error).message})`);
      }
    }
    const failed = failures.join(', ');
    if (failures.length === nodes.length) {
      this.problem = `the jobstream function library could not be checked or loaded (${failed || 'no Redis node is known'})`;
      this.unchecked = null;
    } else {
      this.problem = null;
      const unchecked = failed
        ? `the jobstream function library could not be checked or loaded on ${failed}; checked again every ${this.options.intervalMs} ms`
        : null;
      if (unchecked && !this.unchecked) this.logger.warn(unchecked);
      this.unchecked = unchecked;
    }
  }

  private async checkNode(node: Redis, reason: 'missing' | 'reconnect'): Promise<void> {
    const loaded = await withDeadline(loadedLibrary(node), this.options.deadlineMs, 'jobstream_version');
    if (loaded && loaded.version >= LIBRARY_VERSION) return;
    this.logger.warn(
      { node: `${node.options.host}:${node.options.port}`, found: loaded?.version ?? null, reason },
      'the jobstream function library is missing on a Redis node; loading it again',
    );
    await withDeadline(loadLibraryOn(node, this.config), this.options.deadlineMs, 'FUNCTION LOAD');
    this.metrics.libraryLoads.inc({ reason });
  }
}
