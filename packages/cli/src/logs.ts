/**
 * `jobstream logs <id>`: a job's output. Without `-f`, what the job holds now, read over HTTP page
 * by page (`output?since=` / `?before=` for `--tail`); with `-f`, over the WebSocket until the job
 * ends, through reconnects and gateway restarts, exiting with the job's outcome.
 */
import type { GapFrame, Job, JobEvent, OutputLine } from '../../client/src/index.js';
import { isTerminal } from '../../../shared/job.js';
import { outcomeExitCode, EXIT } from './exit-codes.js';
import type { Credentials } from './credentials.js';
import type { GatewayApi } from './gateway-api.js';
import { ReplayProgress, type Printer } from './terminal.js';

export interface LogsOptions {
  id: string;
  follow: boolean;
  since: number | undefined;
  tail: number | undefined;
}

/** The API's largest page (docs/protocol.md: `limit` at most 10000). */
const PAGE_LINES = 10_000;
/** A replay longer than this shows its progress on stderr (when the log goes to a file). */
const PROGRESS_AFTER_LINES = 5_000;

interface OutputPage {
  lines: OutputLine[];
  lastSeq: number;
  next: number;
  gap?: { fromSeq: number; toSeq: number };
}

export async function logs(
  api: GatewayApi,
  credentials: Credentials,
  printer: Printer,
  options: LogsOptions,
): Promise<number> {
  const job = await api.job(options.id);
  return options.follow
    ? followLogs(api, job, credentials, printer, options)
    : printLogs(api, job, printer, options);
}

/** What the job holds now, then exit 0. */
async function printLogs(
  api: GatewayApi,
  job: Job,
  printer: Printer,
  { id, since, tail }: LogsOptions,
): Promise<number> {
  const path = `/api/jobs/${encodeURIComponent(id)}/output`;
  if (printer.json) printer.frame({ type: 'status', jobId: id, job });
  const print = (page: OutputPage) => {
    if (page.gap) gapNotice(printer, { type: 'gap', jobId: id, ...page.gap, reason: 'trimmed' });
    printLines(printer, id, page.lines);
  };
  if (tail !== undefined) {
    // Backwards from the end, page by page, then printed oldest first.
    const pages: OutputPage[] = [];
    let before = job.lastSeq + 1;
    let wanted = tail;
    while (wanted > 0 && before > 1) {
      const limit = Math.min(PAGE_LINES, wanted);
      const page = await api.get<OutputPage>(`${path}?before=${before}&limit=${limit}`, id);
      pages.unshift(page);
      wanted -= page.lines.length;
      const first = page.lines[0];
      if (!first || page.lines.length < limit) break;
      before = first.seq;
    }
    for (const page of pages) print(page);
  } else {
    let after = since ?? 0;
    const progress = new ReplayProgress(job.lastSeq - after);
    const showProgress = job.lastSeq - after > PROGRESS_AFTER_LINES;
    const pageAfter = (seq: number) => api.get<OutputPage>(`${path}?since=${seq}&limit=${PAGE_LINES}`, id);
    let request = pageAfter(after);
    for (;;) {
      const page = await request;
      const more = page.lines.length > 0 && page.next > after && page.next < page.lastSeq;
      // The next page is on its way while this one is printed.
      if (more) request = pageAfter(page.next);
      print(page);
      await printer.drained();
      if (showProgress) progress.update(page.next - (since ?? 0));
      if (!more) break;
      after = page.next;
    }
    progress.end();
  }
  if (printer.json && isTerminal(job.status))
    printer.frame({ type: 'done', jobId: id, status: job.status, lastSeq: job.lastSeq });
  return EXIT.success;
}

/** Everything from `since` (default: the start) or the last `tail` lines, then live until the end. */
async function followLogs(
  api: GatewayApi,
  job: Job,
  credentials: Credentials,
  printer: Printer,
  { id, since, tail }: LogsOptions,
): Promise<number> {
  const { Follower } = await import('./follow.js'); // the WebSocket client, only to follow
  const follower = new Follower(credentials, printer, { maxLines: Math.max(1000, tail ?? 0) });
  const start = since ?? 0;
  const replaying = tail === undefined && job.lastSeq - start > PROGRESS_AFTER_LINES;
  const progress = new ReplayProgress(job.lastSeq - start, replaying ? undefined : false);
  follower.connect();
  try {
    const end = await follower.follow(id, tail !== undefined ? { tail } : { since: start }, (event) => {
      printEvent(printer, id, event);
      if (event.type === 'output' && replaying) {
        const last = event.lines.at(-1)?.seq ?? 0;
        if (last >= job.lastSeq) progress.end();
        else progress.update(last - start);
      }
    });
    // The reaper's reason ("runner lost") tells exit code 2 from 1; the done frame has no reason.
    const ended = end.job && isTerminal(end.job.status) ? end.job : await api.job(id).catch(() => end.job);
    return outcomeExitCode(end.status, ended);
  } finally {
    progress.end();
    follower.close();
  }
}

/** One frame of a followed job, as text or as JSON. */
export function printEvent(printer: Printer, jobId: string, event: JobEvent, prefix = ''): void {
  if (printer.json) {
    if (event.type === 'error' && event.retrying) return;
    printer.frame(
      event.type === 'error' ? { type: 'error', jobId, code: event.code, message: event.message } : event,
    );
    return;
  }
  switch (event.type) {
    case 'output':
      printer.lines(
        event.lines.map((l) => l.line),
        prefix,
      );
      return;
    case 'gap':
      gapNotice(printer, event, prefix);
      return;
    case 'progress':
      printer.pending(event.line, prefix);
      return;
    case 'done':
      printer.endPending();
      return;
    default:
      return;
  }
}

function printLines(printer: Printer, jobId: string, lines: OutputLine[]): void {
  if (lines.length === 0) return;
  if (printer.json) printer.frame({ type: 'output', jobId, lines });
  else printer.lines(lines.map((l) => l.line));
}

function gapNotice(printer: Printer, gap: GapFrame, prefix = ''): void {
  if (printer.json) {
    printer.frame(gap);
    return;
  }
  const lines =
    gap.fromSeq === gap.toSeq
      ? `line ${gap.fromSeq.toLocaleString('en-US')} is`
      : `lines ${gap.fromSeq.toLocaleString('en-US')}–${gap.toSeq.toLocaleString('en-US')} are`;
  const why =
    gap.reason === 'trimmed'
      ? "trimmed from the job's history before an archive kept them"
      : 'skipped: this connection fell too far behind';
  printer.notice(`${prefix}${lines} gone (${why})`);
}
