/**
 * The one way the gateway reads a job's output (replay, output pages, search, output.txt): from
 * Redis, and, with an archive, from the archive for the seqs Redis no longer holds, so every
 * reader sees one sequence of lines across the archive→Redis seam (docs/architecture.md
 * "Archive"). A recorded hole reads as lines gone for good (the page starts after it, as a trim
 * does); a seq neither Redis nor the index accounts for, or a chunk that cannot be read or fails
 * its checksum, is an ArchiveUnavailableError: `unavailable`, never a gap.
 */
import { LRUCache } from 'lru-cache';
import type { RedisConnection } from '../../../shared/redis/client.js';
import { checkEntries, readOutput, type StoredPage } from '../redis/store.js';
import type { ArchiveMetrics } from './archive-metrics.js';
import {
  archiveIndexKey,
  chunkObjectKey,
  decodeChunk,
  parseArchiveIndex,
  recordHolding,
  type ArchiveRecord,
} from './chunks.js';
import { ArchiveUnavailableError } from './errors.js';
import type { ArchiveStore } from './store.js';

export interface ReadOptions {
  toSeq?: number;
  /** At least one entry is returned however long it is. */
  maxBytes?: number;
  /**
   * A page that cannot be read whole fails, rather than ending early (the next read would
   * fail): for a download, which can still answer 503 before its first byte.
   */
  whole?: boolean;
}

/** Decompressed chunks kept in memory: a replay reads one chunk in several pages. */
const CHUNK_CACHE_BYTES = 64 * 1024 * 1024;
/** Indexes kept: a chunk record never changes, so a cached one is right for good. */
const INDEX_CACHE_JOBS = 10_000;
/** Rough bookkeeping cost of one cached entry besides its bytes. */
const ENTRY_OVERHEAD_BYTES = 96;

type ChunkRecord = Extract<ArchiveRecord, { kind: 'chunk' }>;
type ChunkContext = ChunkRecord & { jobId: string };

export class OutputReader {
  private readonly indexes = new LRUCache<string, ArchiveRecord[]>({ max: INDEX_CACHE_JOBS });
  private readonly chunks: LRUCache<string, Buffer[], ChunkContext> | null;

  constructor(
    private readonly redis: RedisConnection,
    private readonly archive: { store: ArchiveStore; metrics: ArchiveMetrics } | null = null,
  ) {
    this.chunks = archive
      ? new LRUCache<string, Buffer[], ChunkContext>({
          maxSize: CHUNK_CACHE_BYTES,
          sizeCalculation: (entries) =>
            entries.reduce((sum, entry) => sum + entry.length + ENTRY_OVERHEAD_BYTES, 1),
          fetchMethod: (key, _stale, { context }) => this.fetchChunk(key, context),
        })
      : null;
  }

  /** Whether lines Redis trimmed may still be read (from the archive). */
  get archived(): boolean {
    return this.archive !== null;
  }

  /**
   * Up to `limit` entries with seq ≥ `fromSeq` (and ≤ `toSeq`), as stored. The page's `fromSeq`
   * is past the asked-for seq only where lines are gone for good. A missing job reads as empty.
   * A page that starts in the archive goes on across chunks and into Redis until it is full.
   */
  async read(jobId: string, fromSeq: number, limit: number, options: ReadOptions = {}): Promise<StoredPage> {
    const first = await this.readOnce(jobId, fromSeq, limit, options);
    if (!first.fromArchive) return first;
    const entries = [...first.entries];
    let bytes = entries.reduce((sum, entry) => sum + entry.length, 0);
    let next = first.fromSeq + entries.length;
    const toSeq = Math.min(options.toSeq ?? Number.MAX_SAFE_INTEGER, first.lastSeq);
    while (entries.length > 0 && entries.length < limit && next <= toSeq) {
      if (options.maxBytes !== undefined && bytes >= options.maxBytes) break;
      const maxBytes = options.maxBytes === undefined ? undefined : options.maxBytes - bytes;
      const more = await (options.whole ? this.readOnce : this.readOnceOrNothing).call(
        this,
        jobId,
        next,
        limit - entries.length,
        {
          ...options,
          ...(maxBytes ? { maxBytes } : {}),
        },
      );
      if (more.fromSeq !== next || more.entries.length === 0) break; // a gap: the caller's next page says so
      if (maxBytes !== undefined && more.entries.length === 1 && more.entries[0]!.length > maxBytes) break;
      entries.push(...more.entries);
      bytes += more.entries.reduce((sum, entry) => sum + entry.length, 0);
      next += more.entries.length;
    }
    return { fromSeq: first.fromSeq, entries, lastSeq: first.lastSeq };
  }

  /** A page's continuation: what cannot be read now ends the page, and the next read reports it. */
  private async readOnceOrNothing(
    jobId: string,
    fromSeq: number,
    limit: number,
    options: ReadOptions,
  ): Promise<StoredPage> {
    try {
      return await this.readOnce(jobId, fromSeq, limit, options);
    } catch (error) {
      if (error instanceof ArchiveUnavailableError) return { fromSeq, entries: [], lastSeq: 0 };
      throw error;
    }
  }

  /** One page: from Redis, or from the one chunk (or past the one hole) holding `fromSeq`. */
  private async readOnce(
    jobId: string,
    fromSeq: number,
    limit: number,
    options: ReadOptions,
  ): Promise<StoredPage & { fromArchive: boolean }> {
    const page = await readOutput(this.redis, jobId, fromSeq, limit, options);
    const toSeq = Math.min(options.toSeq ?? Number.MAX_SAFE_INTEGER, page.lastSeq);
    if (!this.archive || page.fromSeq <= fromSeq || fromSeq > toSeq) return { ...page, fromArchive: false };
    // Below the first seq Redis holds: the archive's index says where the line is.
    const record = await this.recordFor(jobId, fromSeq);
    if (record === null)
      throw new ArchiveUnavailableError(
        `line ${fromSeq} of job ${jobId} is not in Redis and not yet recorded in the archive; try again`,
      );
    if (record.kind === 'gap') {
      const after = record.lastSeq + 1;
      if (after > toSeq) return { fromSeq: after, entries: [], lastSeq: page.lastSeq, fromArchive: false };
      return this.readOnce(jobId, after, limit, options);
    }
    const chunk = await this.chunk(jobId, record);
    // A reader going on past this chunk will want the next two: fetched and checked meanwhile.
    if (toSeq > record.lastSeq) this.prefetch(jobId, record.lastSeq + 1, 2);
    const last = Math.min(record.lastSeq, toSeq, fromSeq + limit - 1);
    const entries: Buffer[] = [];
    let bytes = 0;
    for (let seq = fromSeq; seq <= last; seq++) {
      const entry = chunk[seq - record.firstSeq];
      if (entry === undefined) break;
      bytes += entry.length;
      if (options.maxBytes !== undefined && bytes > options.maxBytes && entries.length > 0) break;
      entries.push(entry);
    }
    return {
      fromSeq,
      entries, // checked once, when the chunk was read (fetchChunk)
      lastSeq: page.lastSeq,
      fromArchive: true,
    };
  }

  private async recordFor(jobId: string, seq: number): Promise<ArchiveRecord | null> {
    const cached = this.indexes.get(jobId);
    const hit = cached && recordHolding(cached, seq);
    if (hit) return hit;
    const records = parseArchiveIndex(await this.redis.hgetall(archiveIndexKey(jobId)));
    this.indexes.set(jobId, records);
    return recordHolding(records, seq);
  }

  private prefetch(jobId: string, seq: number, chunks: number): void {
    const next = this.indexes.get(jobId) && recordHolding(this.indexes.get(jobId)!, seq);
    if (!next || next.kind !== 'chunk') return;
    const key = chunkObjectKey(jobId, next.firstSeq, next.lastSeq);
    // A failure here is the next read's to report (it fetches again).
    if (!this.chunks!.has(key))
      this.chunks!.fetch(key, { context: { ...next, jobId } }).catch(() => undefined);
    if (chunks > 1) this.prefetch(jobId, next.lastSeq + 1, chunks - 1);
  }

  private async chunk(jobId: string, record: ChunkRecord): Promise<Buffer[]> {
    const key = chunkObjectKey(jobId, record.firstSeq, record.lastSeq);
    let entries: Buffer[] | undefined;
    try {
      entries = await this.chunks!.fetch(key, { context: { ...record, jobId } });
    } catch (error) {
      this.archive!.metrics.failures.inc({ operation: 'read' });
      if (error instanceof ArchiveUnavailableError) {
        if (error.corrupt) this.archive!.metrics.corruptChunks.inc();
        throw error;
      }
      throw new ArchiveUnavailableError(
        `the archive (${this.archive!.store.description}) cannot be read: ${(error as Error).message}`,
      );
    }
    if (entries === undefined || entries.length !== record.lastSeq - record.firstSeq + 1) {
      this.archive!.metrics.failures.inc({ operation: 'read' });
      throw new ArchiveUnavailableError(`archive chunk ${key} does not hold the lines its record says`);
    }
    return entries;
  }

  /** A chunk's entries, checked once here: a cached chunk is read again without parsing a line. */
  private async fetchChunk(key: string, record: ChunkContext): Promise<Buffer[]> {
    const body = await this.archive!.store.get(key);
    this.archive!.metrics.chunksRead.inc();
    if (body === null) throw new ArchiveUnavailableError(`archive chunk ${key} is missing from the store`);
    return checkEntries(record.jobId, record.firstSeq, await decodeChunk(body, record.sha256, key));
  }
}
