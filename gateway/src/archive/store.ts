/**
 * Where archived objects live: a directory (`file:///path`, one machine or a shared volume) or
 * an S3 bucket (`s3://bucket/prefix`). Objects are immutable: a retried upload writes the same
 * bytes to the same key, so a put never needs to know whether an earlier one landed.
 */
import type { ArchiveConfig } from '../ops/config.js';
import { FileStore } from './file-store.js';
import { S3Store } from './s3-store.js';

export interface ArchiveStore {
  /** Where, for logs and errors (no credentials). */
  readonly description: string;
  /** Stores `body` at `key` whole or not at all. */
  put(key: string, body: Buffer): Promise<void>;
  /** The object at `key`, or null when there is none. Rejects when the store cannot be read. */
  get(key: string): Promise<Buffer | null>;
  /**
   * Removes the jobs finished longer than `retentionS` ago; returns how many. The S3 store keeps
   * its retention with a bucket lifecycle rule instead (docs/operations.md) and returns 0.
   */
  sweep(retentionS: number, now: number): Promise<number>;
}

export function openArchiveStore(config: Pick<ArchiveConfig, 'url' | 's3Endpoint'>): ArchiveStore {
  const url = new URL(config.url);
  if (url.protocol === 'file:') return new FileStore(decodeURIComponent(url.pathname));
  if (url.protocol === 's3:')
    return new S3Store({
      bucket: url.hostname,
      prefix: url.pathname.replace(/^\/+/, ''),
      endpoint: config.s3Endpoint,
    });
  throw new Error(`JOBSTREAM_ARCHIVE_URL must be file:///path or s3://bucket/prefix, not ${config.url}`);
}
