/**
 * Small typed wrappers over the `jobstream` function library. Each is one FCALL (plus, for
 * create, the index ZADDs the design leaves to the caller because those keys live in other
 * cluster slots). Errors come back as JobstreamError with a stable code.
 */
import { rethrowTyped } from '../errors.js';
import { jobFromHash, metadataArgs, type Job, type JobMetadata, type JobStatus } from '../job.js';
import { jobKey, JOBS_INDEX, outputKey, ownerIndexKey } from '../keys.js';
import type { OutputStream } from '../protocol.js';
import type { RedisConnection } from './client.js';

export interface NewJob {
  id: string;
  owner: string;
  title: string;
  fields?: JobMetadata;
}

export interface LineToAppend {
  stream: OutputStream;
  line: string;
}

/** Creates the job (status `queued`) and indexes it. Returns `createdAt`. */
export async function createJob(redis: RedisConnection, job: NewJob): Promise<number> {
  const createdAt = Number(
    await redis
      .fcall('jobstream_create', 1, jobKey(job.id), job.owner, job.title, ...metadataArgs(job.fields ?? {}))
      .catch(rethrowTyped),
  );
  await Promise.all([
    redis.zadd(JOBS_INDEX, createdAt, job.id),
    redis.zadd(ownerIndexKey(job.owner), createdAt, job.id),
  ]);
  return createdAt;
}

/** Appends lines in one atomic call. Returns the last seq given out. */
export async function appendLines(
  redis: RedisConnection,
  jobId: string,
  lines: readonly LineToAppend[],
): Promise<number> {
  const args: string[] = [];
  for (const { stream, line } of lines) args.push(stream, line);
  return Number(
    await redis.fcall('jobstream_append', 2, jobKey(jobId), outputKey(jobId), ...args).catch(rethrowTyped),
  );
}

/** Sets the status (and metadata). Returns the job's last seq. */
export async function setJobStatus(
  redis: RedisConnection,
  jobId: string,
  status: JobStatus,
  fields: JobMetadata = {},
): Promise<number> {
  return Number(
    await redis
      .fcall('jobstream_status', 2, jobKey(jobId), outputKey(jobId), status, ...metadataArgs(fields))
      .catch(rethrowTyped),
  );
}

export async function getJob(redis: RedisConnection, jobId: string): Promise<Job | null> {
  return jobFromHash(await redis.hgetall(jobKey(jobId)));
}
