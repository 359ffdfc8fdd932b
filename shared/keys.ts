/**
 * Redis key names of docs/architecture.md. Every key of one job carries the hash tag `{J}` so that all of
 * them live in one Redis Cluster slot and one function call may touch them together.
 */
export const jobKey = (jobId: string): string => `job:{${jobId}}`;
export const outputKey = (jobId: string): string => `job:{${jobId}}:output`;
export const eventsChannel = (jobId: string): string => `job:{${jobId}}:events`;
/** Requests to the job's runner (`cancel`). */
export const controlChannel = (jobId: string): string => `job:{${jobId}}:control`;
export const JOBS_INDEX = 'jobs:index';
export const ownerIndexKey = (owner: string): string => `jobs:owner:${owner}`;
export const JOBS_FEED = 'jobs:feed';
/** Jobs not yet finished, scored by createdAt: what the reaper looks at. */
export const JOBS_ACTIVE = 'jobs:active';
/** The reaper's lease: which gateway process reaps (jobstream_lease_renew). */
export const REAPER_LEASE = 'jobstream:reaper:lease';
/** A job token (HTTP ingest), by the SHA-256 of the token: the token itself is never stored. */
export const jobTokenKey = (jobId: string, tokenSha256: string): string =>
  `job:{${jobId}}:jobtoken:${tokenSha256}`;
/** Who created a job over HTTP (so a creation whose reply was lost can be retried by its caller). */
export const jobCreatorKey = (jobId: string): string => `job:{${jobId}}:creator`;
/** A download token for one job (`POST /api/jobs/:id/download-token`): in the job's slot, so bound to it. */
export const downloadTokenKey = (jobId: string, token: string): string => `job:{${jobId}}:download:${token}`;
