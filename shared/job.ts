/**
 * The job model of docs/architecture.md: ids, statuses, legal transitions and the job object that the
 * `status` and `job` frames and the HTTP API carry (the job hash with numbers as numbers,
 * absent fields left out, `seq` named `lastSeq`).
 */
/** Job ids are safe in keys, URLs and JSON without escaping. Anything else is refused. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

export const JOB_STATUSES = ['queued', 'running', 'success', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['success', 'failed', 'cancelled']);

export function isJobStatus(value: string): value is JobStatus {
  return (JOB_STATUSES as readonly string[]).includes(value);
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export interface Job {
  id: string;
  owner: string;
  title: string;
  status: JobStatus;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  errorMessage?: string;
  linesAdded?: number;
  linesRemoved?: number;
  mrUrl?: string;
  branch?: string;
  exitCode?: number;
  /** Runner liveness, Redis time; written by `jobstream_heartbeat` only. */
  heartbeatAt?: number;
  cancelRequestedAt?: number;
  cancelRequestedBy?: string;
  lastSeq: number;
  /** The job's `::error::`/`::warning::`/`::notice::` lines, counted as they were stored (when any). */
  annotationCounts?: AnnotationCounts;
}

export interface AnnotationCounts {
  error: number;
  warning: number;
  notice: number;
}

/** Metadata fields a runner may set, as the function library accepts them. */
export const METADATA_TEXT_FIELDS = ['title', 'errorMessage', 'mrUrl', 'branch'] as const;
export const METADATA_INTEGER_FIELDS = ['linesAdded', 'linesRemoved', 'exitCode'] as const;

/**
 * The most a caller may store: each metadata field (and the owner), and a job's whole hash, in
 * bytes. The function library refuses more with FIELD_TOO_LARGE, so no writer can make a feed
 * frame or a job list huge.
 */
export const MAX_FIELD_BYTES = 4096;
export const MAX_JOB_HASH_BYTES = 65_536;

/** Metadata a runner may set with `jobstream_create` / `jobstream_status`. */
export type JobMetadata = { [F in (typeof METADATA_TEXT_FIELDS)[number]]?: string } & {
  [F in (typeof METADATA_INTEGER_FIELDS)[number]]?: number;
};

const NUMERIC_FIELDS = [
  'createdAt',
  'startedAt',
  'finishedAt',
  ...METADATA_INTEGER_FIELDS,
  'heartbeatAt',
  'cancelRequestedAt',
] as const;
const TEXT_FIELDS = [...METADATA_TEXT_FIELDS, 'cancelRequestedBy'] as const;

/**
 * Turns an HGETALL reply into the job object, or null for a missing or malformed hash (a hash
 * without id/owner/status was not written by the library and is treated as absent).
 */
export function jobFromHash(hash: Record<string, string>): Job | null {
  const { id, owner, status } = hash;
  if (id === undefined || owner === undefined || status === undefined || !isJobStatus(status)) return null;
  const job: Job = {
    id,
    owner,
    title: hash.title ?? '',
    status,
    createdAt: Number(hash.createdAt ?? 0),
    lastSeq: Number(hash.seq ?? 0),
  };
  for (const field of NUMERIC_FIELDS) {
    const raw = hash[field];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (Number.isFinite(value)) job[field] = value;
  }
  for (const field of TEXT_FIELDS) {
    const raw = hash[field];
    if (raw !== undefined) job[field] = raw;
  }
  const counts = ['annotationErrors', 'annotationWarnings', 'annotationNotices'].map((f) =>
    Number(hash[f] ?? 0),
  );
  if (counts.some((n) => n > 0))
    job.annotationCounts = { error: counts[0] ?? 0, warning: counts[1] ?? 0, notice: counts[2] ?? 0 };
  return job;
}

/** Flattens metadata into the `<field> <value> …` argument list of the Lua functions. */
export function metadataArgs(fields: JobMetadata): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(fields) as [keyof JobMetadata, string | number | undefined][]) {
    if (value === undefined) continue;
    args.push(key, String(value));
  }
  return args;
}
