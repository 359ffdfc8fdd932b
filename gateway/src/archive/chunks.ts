/**
 * The archive's objects and records (docs/architecture.md "Archive"): where a chunk lives, how
 * its bytes are made and checked, and the `job:{J}:archive` index that says which chunk (or
 * hole) holds a seq, so a reader never lists the store.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, gzip as gzipCallback } from 'node:zlib';
import { ArchiveUnavailableError } from './errors.js';

const gzip = promisify(gzipCallback);
const gunzip = promisify(gunzipCallback);

export const chunkObjectKey = (jobId: string, firstSeq: number, lastSeq: number): string =>
  `jobs/${jobId}/lines/${firstSeq}-${lastSeq}.ndjson.gz`;
export const manifestObjectKey = (jobId: string): string => `jobs/${jobId}/manifest.json`;
/** The index of a job's chunks and holes, in the job's slot. */
export const archiveIndexKey = (jobId: string): string => `job:{${jobId}}:archive`;
/** The per-job claim of the gateway archiving it (SET NX PX, renewed). */
export const archiveClaimKey = (jobId: string): string => `job:{${jobId}}:archiving`;
/** Finished jobs whose manifest is not stored yet, scored by finish time. */
export const JOBS_UNARCHIVED = 'jobs:unarchived';

export interface EncodedChunk {
  gzipped: Buffer;
  /** Hex SHA-256 of the uncompressed NDJSON: gzip output may differ between builds. */
  sha256: string;
}

const sha256Of = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Entries exactly as stored, one per line. */
export async function encodeChunk(entries: readonly Buffer[]): Promise<EncodedChunk> {
  const parts: Buffer[] = [];
  for (const entry of entries) parts.push(entry, NEWLINE);
  const ndjson = Buffer.concat(parts);
  return { gzipped: await gzip(ndjson, { level: GZIP_LEVEL }), sha256: sha256Of(ndjson) };
}
const NEWLINE = Buffer.from('\n');
/** Level 1: about half the CPU of the default level for 5 % more bytes on log lines (measured). */
const GZIP_LEVEL = 1;
/**
 * Output buffer of one step of gunzip on the thread pool. zlib's default (16 KiB) makes a 1.5 MB
 * chunk a hundred round trips to the event loop: 11–27 ms to read one, against 2–7 ms in steps
 * of 1 MiB (measured), which is what a cold replay waits for before its first page.
 */
const GUNZIP_CHUNK_BYTES = 1024 * 1024;

/** The entries of a chunk, after checking its SHA-256; a mismatch is `unavailable`, never a gap. */
export async function decodeChunk(gzipped: Buffer, expectedSha256: string, name: string): Promise<Buffer[]> {
  let ndjson: Buffer;
  try {
    ndjson = await gunzip(gzipped, { chunkSize: GUNZIP_CHUNK_BYTES });
  } catch (error) {
    throw new ArchiveUnavailableError(
      `archive chunk ${name} is not valid gzip: ${(error as Error).message}`,
      {
        corrupt: true,
      },
    );
  }
  if (sha256Of(ndjson) !== expectedSha256)
    throw new ArchiveUnavailableError(`archive chunk ${name} does not match its SHA-256`, { corrupt: true });
  const entries: Buffer[] = [];
  let start = 0;
  for (let end = ndjson.indexOf(10); end !== -1; end = ndjson.indexOf(10, start)) {
    entries.push(ndjson.subarray(start, end));
    start = end + 1;
  }
  return entries;
}

/** One record of `job:{J}:archive`: a stored chunk, or lines gone for good. */
export type ArchiveRecord =
  | { kind: 'chunk'; firstSeq: number; lastSeq: number; bytes: number; sha256: string }
  | { kind: 'gap'; firstSeq: number; lastSeq: number };

/** The index hash as records ordered by seq; a field of any other form is skipped. */
export function parseArchiveIndex(hash: Record<string, string>): ArchiveRecord[] {
  const records: ArchiveRecord[] = [];
  for (const [field, value] of Object.entries(hash)) {
    const firstSeq = Number(field);
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) continue;
    const gap = /^gap (\d+)$/.exec(value);
    if (gap) {
      records.push({ kind: 'gap', firstSeq, lastSeq: Number(gap[1]) });
      continue;
    }
    const chunk = /^(\d+) (\d+) ([0-9a-f]{64})$/.exec(value);
    if (chunk)
      records.push({
        kind: 'chunk',
        firstSeq,
        lastSeq: Number(chunk[1]),
        bytes: Number(chunk[2]),
        sha256: chunk[3]!,
      });
  }
  return records.sort((a, b) => a.firstSeq - b.firstSeq);
}

/** The record holding `seq`, if any (records do not overlap). */
export function recordHolding(records: readonly ArchiveRecord[], seq: number): ArchiveRecord | null {
  let low = 0;
  let high = records.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const record = records[middle]!;
    if (seq < record.firstSeq) high = middle - 1;
    else if (seq > record.lastSeq) low = middle + 1;
    else return record;
  }
  return null;
}
