/**
 * The gateway's reads from Redis: a job's state (hash and list length in one MULTI) and its
 * output by seq (one atomic `jobstream_read`, exact while the runner appends and trims).
 */
import { JobstreamError } from '../../../shared/errors.js';
import { jobFromHash, type Job } from '../../../shared/job.js';
import { jobKey, outputKey } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';

export interface JobState {
  job: Job;
  /** Seq of the oldest line still in the list (lastSeq + 1 when the list is empty). */
  firstRetained: number;
}

export interface StoredPage {
  /** Seq of entries[0]; greater than the asked-for seq when those lines were trimmed. */
  fromSeq: number;
  /** Stored entries as Redis holds them (JSON bytes): passed on without decoding. */
  entries: Buffer[];
  lastSeq: number;
}

/** A page read from Redis, with how far the job is archived (0 without an archive). */
export interface RedisPage extends StoredPage {
  archivedSeq: number;
}

function firstRetained(seq: number, length: number): number {
  return seq - length + 1;
}

/**
 * The job and its first retained seq, or null when the job does not exist. A Redis error in any
 * slot of the transaction is thrown, never read as "no such job".
 */
export async function readJobState(redis: RedisConnection, jobId: string): Promise<JobState | null> {
  const results = await redis.multi().hgetall(jobKey(jobId)).llen(outputKey(jobId)).exec();
  if (!results || results.length !== 2) throw new Error(`reading job ${jobId}: the transaction was aborted`);
  const [[hashError, hash], [lengthError, length]] = results as [
    [Error | null, unknown],
    [Error | null, unknown],
  ];
  if (hashError) throw hashError;
  if (lengthError) throw lengthError;
  if (typeof hash !== 'object' || hash === null || typeof length !== 'number')
    throw new Error(`reading job ${jobId}: unexpected reply`);
  const job = jobFromHash(hash as Record<string, string>);
  if (!job) return null;
  return { job, firstRetained: firstRetained(job.lastSeq, length) };
}

/** Entries found malformed (and replaced) by this process, for the metrics. */
export const malformedEntries = { count: 0 };

const SEQ_PREFIX = '{"seq":';

/**
 * Whether a stored entry can be passed on as it is: JSON of the library's form, `{"seq":N,…}`
 * with the seq of its place and a string `line`. Only a writer going around the function library
 * (a raw RPUSH or LSET) can leave anything else. Every entry is parsed once (~0.6 µs for a
 * 155-byte line, measured): a quick look at its two ends let a crafted entry through and broke
 * the whole replay frame it was joined into.
 */
function wellFormed(entry: Buffer, seq: number): boolean {
  if (entry.toString('latin1', 0, SEQ_PREFIX.length) !== SEQ_PREFIX) return false;
  try {
    const parsed = JSON.parse(entry.toString('utf8')) as { seq?: unknown; line?: unknown };
    return parsed.seq === seq && typeof parsed.line === 'string';
  } catch {
    return false;
  }
}

/** What a reader gets for a malformed entry: the line is read as what it is, an error at its seq. */
function malformedEntry(jobId: string, seq: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      seq,
      ts: 0,
      stream: 'stderr',
      line: `[jobstream: the stored entry for line ${seq} of job ${jobId} is malformed]`,
    }),
  );
}

/**
 * The entries as they can be passed on: a malformed one (seqs from `firstSeq`) is replaced by an
 * error line at its seq and counted, so it never breaks a frame or a response.
 */
export function checkEntries(jobId: string, firstSeq: number, entries: Buffer[]): Buffer[] {
  for (let i = 0; i < entries.length; i++) {
    if (wellFormed(entries[i]!, firstSeq + i)) continue;
    entries[i] = malformedEntry(jobId, firstSeq + i);
    malformedEntries.count++;
  }
  return entries;
}

/**
 * Up to `limit` entries with seq ≥ `fromSeq` (and ≤ `toSeq`) that Redis holds, in one atomic
 * `jobstream_read`. Entries are stored JSON bytes, passed on as they are (checkEntries). A
 * missing job reads as empty. Readers go through archive/output-reader.ts, which also reads
 * what Redis no longer holds.
 */
export async function readOutput(
  redis: RedisConnection,
  jobId: string,
  fromSeq: number,
  limit: number,
  {
    toSeq = Number.MAX_SAFE_INTEGER,
    maxBytes,
    check = true,
  }: {
    toSeq?: number;
    maxBytes?: number;
    /** false: the entries exactly as stored, unchecked (the archiver; readers check them later). */
    check?: boolean;
  } = {},
): Promise<RedisPage> {
  const args: number[] = [fromSeq, limit, toSeq];
  if (maxBytes !== undefined) args.push(maxBytes);
  try {
    const [lastSeq, start, entries, archivedSeq] = (await redis.callBuffer(
      'FCALL',
      'jobstream_read',
      2,
      jobKey(jobId),
      outputKey(jobId),
      ...args,
    )) as [number, number, Buffer[], number | undefined];
    const first = Number(start);
    return {
      fromSeq: first,
      entries: check ? checkEntries(jobId, first, entries) : entries,
      lastSeq: Number(lastSeq),
      archivedSeq: Number(archivedSeq ?? 0),
    };
  } catch (error) {
    if (JobstreamError.fromRedis(error)?.code === 'NOT_FOUND')
      return { fromSeq, entries: [], lastSeq: 0, archivedSeq: 0 };
    throw error;
  }
}
