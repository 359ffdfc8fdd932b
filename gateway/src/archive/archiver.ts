/**
 * The archiver (docs/architecture.md "Archive"): every gateway runs one. It moves a job's lines
 * from Redis to the archive in immutable chunks, while the job runs (once a full chunk lies above
 * `archivedSeq`) and after it finishes (the remainder, then the manifest), and then lets Redis
 * drop the list.
 *
 * - Work is shared through a per-job claim (`job:{J}:archiving`, SET NX PX, renewed per chunk):
 *   a gateway that dies mid-upload stops renewing, its claim lapses and another takes over.
 *   `jobstream_archived` records a chunk only for the claim's holder, atomically, so a process
 *   that lost its claim records nothing; the one that took over writes the same object again.
 * - Lines Redis no longer holds when the archiver reaches them (trimmed past
 *   JOBSTREAM_HARD_MAX_LINES, or an unarchived list that expired) are recorded as a hole: readers
 *   get `gap`, the metric counts them.
 * - Finished jobs come from `jobs:unarchived` (filled by the reaper's feed listener and round), so
 *   a job that finished while no gateway ran is archived by the first one to start.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { JobstreamError } from '../../../shared/errors.js';
import { isTerminal, jobFromHash, type Job } from '../../../shared/job.js';
import { jobKey, JOBS_ACTIVE, outputKey } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import { releaseLease, renewLease } from '../../../shared/redis/functions.js';
import type { Logger } from '../ops/logger.js';
import { repeatAfterEach, type Repeating } from '../ops/repeat.js';
import { readOutput } from '../redis/store.js';
import type { ArchiveMetrics } from './archive-metrics.js';
import {
  archiveClaimKey,
  archiveIndexKey,
  chunkObjectKey,
  encodeChunk,
  JOBS_UNARCHIVED,
  manifestObjectKey,
  parseArchiveIndex,
} from './chunks.js';
import type { ArchiveStore } from './store.js';

export interface ArchiverOptions {
  chunkLines: number;
  /** A finished job is archived this long after its finish (late feed frames settle first). */
  delayS: number;
  intervalMs: number;
  /** The file store is swept of jobs older than this. */
  retentionS: number;
  /** How long a claim lives without renewal. */
  claimMs?: number;
}

/** Finished jobs taken from the queue per round; running jobs are looked at all at once. */
const FINISHED_PER_ROUND = 50;
const RUNNING_BATCH = 200;
const SWEEP_EVERY_MS = 3600_000;
/** A chunk of very long lines closes at this size rather than at chunkLines (one LRANGE, one object). */
const CHUNK_MAX_BYTES = 16 * 1024 * 1024;

export class Archiver {
  /** This process, as written in claims. */
  readonly holderId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private repeating: Repeating | null = null;
  private lastSweep = 0;
  /** Since when writes to the archive fail (null while they succeed): /readyz says degraded. */
  private failingSince: number | null = null;
  private lastFailure = '';

  constructor(
    private readonly redis: RedisConnection,
    private readonly store: ArchiveStore,
    private readonly options: ArchiverOptions,
    private readonly metrics: ArchiveMetrics,
    private readonly logger: Logger,
  ) {}

  private get claimMs(): number {
    return this.options.claimMs ?? Math.max(30_000, 3 * this.options.intervalMs);
  }

  start(): void {
    this.repeating = repeatAfterEach(this.options.intervalMs, () => this.round(), { runNow: true });
  }

  async stop(): Promise<void> {
    await this.repeating?.stop();
  }

  /** Why the archive is not keeping up, or null (GET /readyz `degraded`). */
  get degradedReason(): string | null {
    if (this.failingSince === null) return null;
    const seconds = Math.round((Date.now() - this.failingSince) / 1000);
    return `archive ${this.store.description} failing for ${seconds} s: ${this.lastFailure}`;
  }

  /** One round: finished jobs due, running jobs with a full chunk, the gauge, the sweep. */
  async round(): Promise<void> {
    try {
      const due = await this.redis.zrangebyscore(
        JOBS_UNARCHIVED,
        '-inf',
        Date.now() - this.options.delayS * 1000,
        'LIMIT',
        0,
        FINISHED_PER_ROUND,
      );
      for (const jobId of due) if (!this.stopped) await this.archiveJob(jobId);
      for (const jobId of await this.runningWithFullChunk()) if (!this.stopped) await this.archiveJob(jobId);
      await this.measureBacklog();
      await this.sweepWhenDue();
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'archive round failed; the next one retries');
    }
  }

  private get stopped(): boolean {
    return this.repeating?.stopped ?? false;
  }

  private async runningWithFullChunk(): Promise<string[]> {
    const ids = await this.redis.zrange(JOBS_ACTIVE, 0, -1);
    const due: string[] = [];
    // One command per job, a batch at a time: a Cluster pipeline must stay within one slot.
    for (let from = 0; from < ids.length && !this.stopped; from += RUNNING_BATCH) {
      const batch = ids.slice(from, from + RUNNING_BATCH);
      const fields = await Promise.all(batch.map((id) => this.redis.hmget(jobKey(id), 'seq', 'archivedSeq')));
      batch.forEach((id, i) => {
        const [seq, archived] = fields[i]!;
        if (Number(seq ?? 0) - Number(archived ?? 0) >= this.options.chunkLines) due.push(id);
      });
    }
    return due;
  }

  /**
   * Archives what is due of one job, if this process can claim it. Never throws: a failure is
   * logged, counted and retried in a later round (the claim is given up for whoever comes next).
   */
  async archiveJob(jobId: string): Promise<void> {
    const claim = archiveClaimKey(jobId);
    try {
      if (!(await renewLease(this.redis, claim, this.holderId, this.claimMs))) return;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message, jobId }, 'could not claim a job to archive');
      return;
    }
    try {
      await this.archiveClaimed(jobId);
    } catch (error) {
      if (JobstreamError.fromRedis(error)?.code === 'NOT_CLAIMED') {
        this.logger.warn({ jobId }, 'lost the archive claim mid-job; another gateway goes on');
        return;
      }
      this.noteFailure(error);
      this.logger.warn({ err: (error as Error).message, jobId }, 'archiving failed; retried later');
    } finally {
      await releaseLease(this.redis, claim, this.holderId).catch(() => undefined);
    }
  }

  private async archiveClaimed(jobId: string): Promise<void> {
    for (;;) {
      const hash = await this.redis.hgetall(jobKey(jobId));
      const job = jobFromHash(hash);
      if (!job) {
        // Past its retention: nothing left to archive.
        await this.redis.zrem(JOBS_UNARCHIVED, jobId);
        return;
      }
      const finished = isTerminal(job.status);
      const archived = Number(hash.archivedSeq ?? 0);
      if (archived >= job.lastSeq) {
        if (finished) await this.writeManifest(jobId, job);
        return;
      }
      if (!finished && job.lastSeq - archived < this.options.chunkLines) return;
      const from = archived + 1;
      const page = await readOutput(this.redis, jobId, from, this.options.chunkLines, {
        toSeq: archived + this.options.chunkLines,
        maxBytes: CHUNK_MAX_BYTES,
        check: false, // exactly as stored; every reader checks what it reads from a chunk
      });
      if (page.fromSeq > from) {
        // Gone before it was archived (up to the list's head, or the end when the list expired):
        // recorded as a hole, readers get `gap` for it.
        const last = Math.min(page.fromSeq - 1, job.lastSeq);
        await this.record(jobId, ['gap', this.holderId, from, last]);
        this.metrics.linesTrimmedUnarchived.inc(last - from + 1);
        this.logger.warn({ jobId, fromSeq: from, toSeq: last }, 'lines were gone before they were archived');
        continue;
      }
      if (page.entries.length === 0) return; // the job expired meanwhile
      // A running job has a full chunk here (checked above): full by lines, or by bytes.
      await this.writeChunk(jobId, page.fromSeq, page.entries);
    }
  }

  private async writeChunk(jobId: string, firstSeq: number, entries: Buffer[]): Promise<void> {
    const lastSeq = firstSeq + entries.length - 1;
    const chunk = await encodeChunk(entries);
    await this.store.put(chunkObjectKey(jobId, firstSeq, lastSeq), chunk.gzipped);
    this.noteSuccess();
    await this.record(jobId, ['chunk', this.holderId, firstSeq, lastSeq, chunk.gzipped.length, chunk.sha256]);
    this.metrics.chunksWritten.inc();
    this.metrics.bytesWritten.inc(chunk.gzipped.length);
    // A long job keeps its claim alive chunk by chunk.
    if (!(await renewLease(this.redis, archiveClaimKey(jobId), this.holderId, this.claimMs)))
      throw new JobstreamError('NOT_CLAIMED', `the archive claim on ${jobId} lapsed`);
  }

  private async writeManifest(jobId: string, job: Job): Promise<void> {
    const records = parseArchiveIndex(await this.redis.hgetall(archiveIndexKey(jobId)));
    const manifest = {
      job,
      lastSeq: job.lastSeq,
      chunks: records.map((record) =>
        record.kind === 'gap'
          ? { firstSeq: record.firstSeq, lastSeq: record.lastSeq, gap: 'trimmed' }
          : {
              firstSeq: record.firstSeq,
              lastSeq: record.lastSeq,
              bytes: record.bytes,
              sha256: record.sha256,
              key: chunkObjectKey(jobId, record.firstSeq, record.lastSeq),
            },
      ),
    };
    const body = Buffer.from(JSON.stringify(manifest, null, 1));
    await this.store.put(manifestObjectKey(jobId), body);
    this.noteSuccess();
    this.metrics.bytesWritten.inc(body.length);
    await this.record(jobId, ['manifest', this.holderId]);
    await this.redis.zrem(JOBS_UNARCHIVED, jobId);
    this.metrics.manifestsWritten.inc();
  }

  private async record(jobId: string, args: (string | number)[]): Promise<void> {
    await this.redis.fcall('jobstream_archived', 2, jobKey(jobId), outputKey(jobId), ...args);
  }

  private async measureBacklog(): Promise<void> {
    const oldest = await this.redis.zrange(JOBS_UNARCHIVED, 0, 0, 'WITHSCORES');
    const score = oldest[1] === undefined ? null : Number(oldest[1]);
    this.metrics.oldestUnarchivedSeconds.set(score === null ? 0 : Math.max(0, (Date.now() - score) / 1000));
  }

  private async sweepWhenDue(): Promise<void> {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    const removed = await this.store.sweep(this.options.retentionS, Date.now());
    if (removed > 0) {
      this.metrics.jobsSwept.inc(removed);
      this.logger.info({ removed }, 'swept jobs past their retention from the archive');
    }
  }

  private noteFailure(error: unknown): void {
    this.metrics.failures.inc({ operation: 'write' });
    this.failingSince ??= Date.now();
    this.lastFailure = (error as Error).message;
  }

  private noteSuccess(): void {
    this.failingSince = null;
  }
}
