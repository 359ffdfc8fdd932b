/**
 * The JSON bodies of the HTTP API (docs/protocol.md, "HTTP API"), one definition each, used by
 * the gateway that writes them and by the dashboard, load tester and bench that read them.
 * The WebSocket frames are in protocol.ts.
 */
import type { Job, JobStatus } from './job.js';
import type { OutputLine } from './protocol.js';

/** `GET /api/jobs`: a page of jobs, newest first; `next` is the cursor for the page after. */
export interface JobListPage {
  jobs: Job[];
  next: string | null;
}

/** `GET /api/jobs/:id/output?since=` or `?before=`: retained lines, oldest first. */
export interface OutputPage {
  lines: OutputLine[];
  /** The job's last seq when the page was read. */
  lastSeq: number;
  /** The seq to pass as the next `since`: the last line of this page, or past lines gone for good. */
  next: number;
  /** The job's status when the page was read (a poller stops once it is terminal and caught up). */
  status: JobStatus;
  /** Lines asked for that are gone for good (trimmed or expired), when there are any. */
  gap?: { fromSeq: number; toSeq: number };
}

export interface SearchMatch {
  seq: number;
  line: string;
}

/** `GET /api/jobs/:id/search?q=`: matches in the retained log, the first `limit` of them listed. */
export interface SearchResult {
  matches: SearchMatch[];
  /** Every match in the retained lines, also those past `limit`. */
  total: number;
  truncated: boolean;
}

/** One `::error::`, `::warning::` or `::notice::` line of a job. */
export interface Annotation {
  seq: number;
  level: 'error' | 'warning' | 'notice';
  message: string;
  file?: string;
  line?: number;
}

/** `GET /api/jobs/:id/annotations`. */
export interface AnnotationsPage {
  /** The first 1,000 of the job, oldest first. */
  annotations: Annotation[];
  firstErrorSeq: number | null;
  /** Every annotation of the job, also those past the 1,000 kept. */
  total: number;
}
