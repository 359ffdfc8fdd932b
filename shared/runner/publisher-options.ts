/**
 * What JobPublisher (Redis) and HttpJobPublisher (the gateway) share and that needs no Redis
 * client: their options and defaults, and how an exit code ends a job. Kept apart so a runner
 * over HTTP (the \`jobstream\` CLI) loads no Redis code.
 */
import type { JobMetadata } from '../job.js';

/** A process exit code as a job's end: 0 is success, anything else failed with the code said. */
export function exitOutcome(
  exitCode: number,
  fields: JobMetadata = {},
): { status: 'success' | 'failed'; fields: JobMetadata } {
  const status = exitCode === 0 ? 'success' : 'failed';
  const said =
    status === 'failed' && fields.errorMessage === undefined ? { errorMessage: `exit code ${exitCode}` } : {};
  return { status, fields: { exitCode, ...said, ...fields } };
}

export interface JobPublisherOptions {
  /** How long a batch waits for more lines before it is sent. 0 sends every line on its own. */
  lingerMs?: number;
  maxBatchLines?: number;
  maxBatchBytes?: number;
  /** Lines (and bytes of text) kept in memory; past this they wait in the spool file. */
  maxBufferedLines?: number;
  maxBufferedBytes?: number;
  /** The spool: its folder (the system's temporary folder by default) and its size limit (0: none). */
  spoolDir?: string;
  spoolMaxBytes?: number;
  /** How often the runner's sign of life is sent while the job is queued or running (≤ 10 s). */
  heartbeatMs?: number;
  /** Backoff between retries while Redis is unreachable. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Acknowledged lines kept to rebuild what a failover loses (acked-lines.ts). */
  ackedWindowLines?: number;
  ackedWindowBytes?: number;
}

/** The defaults of JobPublisher and HttpJobPublisher alike. */
export const PUBLISHER_DEFAULTS: Required<JobPublisherOptions> = {
  lingerMs: 10,
  maxBatchLines: 1000,
  maxBatchBytes: 512 * 1024,
  maxBufferedLines: 100_000,
  maxBufferedBytes: 32 * 1024 * 1024,
  spoolDir: '',
  spoolMaxBytes: 1024 * 1024 * 1024,
  heartbeatMs: 5000,
  retryMinMs: 50,
  // A failover ends within the cluster's node timeout: retry often enough to follow it at once.
  retryMaxMs: 500,
  ackedWindowLines: 20_000,
  ackedWindowBytes: 8 * 1024 * 1024,
};
