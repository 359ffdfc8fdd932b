/**
 * Small typed wrappers over the `jobstream` function library. Each is one FCALL (plus, for
 * create, the index ZADDs the design leaves to the caller because those keys live in other
 * cluster slots). Errors come back as JobstreamError with a stable code.
 */
import { rethrowTyped } from '../errors.js';
import { jobFromHash, metadataArgs, type Job, type JobMetadata, type JobStatus } from '../job.js';
import { jobKey, JOBS_ACTIVE, JOBS_INDEX, outputKey, ownerIndexKey } from '../keys.js';
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

/** Creates the job (status `queued`) and indexes it (lists, and `jobs:active` for the reaper). Returns `createdAt`. */
export async function createJob(redis: RedisConnection, job: NewJob): Promise<number> {
  const createdAt = Number(
    await redis
      .fcall('jobstream_create', 1, jobKey(job.id), job.owner, job.title, ...metadataArgs(job.fields ?? {}))
      .catch(rethrowTyped),
  );
  await Promise.all([
    redis.zadd(JOBS_INDEX, createdAt, job.id),
    redis.zadd(ownerIndexKey(job.owner), createdAt, job.id),
    redis.zadd(JOBS_ACTIVE, createdAt, job.id),
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

/**
 * Appends the lines after seq `after` (the last one the writer knows stored), idempotently: lines
 * a retried batch already stored are skipped. Returns the job's seq afterwards. An `after` past
 * the job's seq is a JobstreamError `SEQ_MISMATCH` whose message starts with the job's seq.
 */
export async function appendLinesAfter(
  redis: RedisConnection,
  jobId: string,
  after: number,
  lines: readonly LineToAppend[],
): Promise<number> {
  const args: string[] = [];
  for (const { stream, line } of lines) args.push(stream, line);
  return Number(
    await redis
      .fcall('jobstream_append_after', 2, jobKey(jobId), outputKey(jobId), after, ...args)
      .catch(rethrowTyped),
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

/**
 * Publishes the text of a line still being written (a `progress` frame; nothing is stored).
 * Returns the job's seq, the frame's `afterSeq`.
 */
export async function publishProgress(
  redis: RedisConnection,
  jobId: string,
  stream: OutputStream,
  text: string,
): Promise<number> {
  return Number(
    await redis
      .fcall('jobstream_progress', 2, jobKey(jobId), outputKey(jobId), stream, text)
      .catch(rethrowTyped),
  );
}

/** The runner's sign of life (Redis time). Returns `cancelRequestedAt`, 0 when no cancel was asked. */
export async function heartbeat(redis: RedisConnection, jobId: string): Promise<number> {
  return Number(await redis.fcall('jobstream_heartbeat', 1, jobKey(jobId)).catch(rethrowTyped));
}

/** Asks the job's runner to stop. Returns `cancelRequestedAt` (the first request's, when repeated). */
export async function requestCancel(
  redis: RedisConnection,
  jobId: string,
  requestedBy: string,
): Promise<number> {
  return Number(
    await redis
      .fcall('jobstream_cancel', 2, jobKey(jobId), outputKey(jobId), requestedBy)
      .catch(rethrowTyped),
  );
}

/** What `jobstream_reap` found or did to a job (see lua/3-gateway.lua). */
export type ReapOutcome = 'failed' | 'cancelled' | 'alive' | 'terminal';

/** Finishes the job if its runner is lost or ignored a cancel; atomic, so it never races a runner. */
export async function reapJob(
  redis: RedisConnection,
  jobId: string,
  limits: { runnerTimeoutMs: number; cancelGraceMs: number },
): Promise<ReapOutcome> {
  const outcome = String(
    await redis
      .fcall(
        'jobstream_reap',
        2,
        jobKey(jobId),
        outputKey(jobId),
        limits.runnerTimeoutMs,
        limits.cancelGraceMs,
      )
      .catch(rethrowTyped),
  );
  if (outcome === 'failed' || outcome === 'cancelled' || outcome === 'alive' || outcome === 'terminal')
    return outcome;
  throw new Error(`jobstream_reap answered ${outcome}`);
}

export async function getJob(redis: RedisConnection, jobId: string): Promise<Job | null> {
  return jobFromHash(await redis.hgetall(jobKey(jobId)));
}

/**
 * Takes the lease at `key` for `holder` if it is free, or extends it if `holder` has it, for
 * `ms`; never another holder's. True when `holder` holds it now.
 */
export async function renewLease(
  redis: RedisConnection,
  key: string,
  holder: string,
  ms: number,
): Promise<boolean> {
  return Number(await redis.fcall('jobstream_lease_renew', 1, key, holder, ms).catch(rethrowTyped)) === 1;
}

/** Frees the lease at `key` if `holder` has it (another's is left alone). */
export async function releaseLease(redis: RedisConnection, key: string, holder: string): Promise<void> {
  await redis.fcall('jobstream_lease_release', 1, key, holder).catch(rethrowTyped);
}
