/** The short commands: `ls`, `search`, `cancel`. */
import { ago, duration, type Job } from '../../client/src/index.js';
import { EXIT } from './exit-codes.js';
import type { GatewayApi } from './gateway-api.js';
import type { Printer } from './terminal.js';

const STATUS_COLORS: Record<Job['status'], number> = {
  queued: 2,
  running: 34,
  success: 32,
  failed: 31,
  cancelled: 33,
};

/** `ls`: newest first, as a table (or one job object a line with `--json`). */
export async function ls(
  api: GatewayApi,
  printer: Printer,
  { status, q, limit }: { status?: string; q?: string; limit: number },
): Promise<number> {
  const jobs = await api.jobs({ ...(status ? { status } : {}), ...(q ? { q } : {}) }, limit);
  if (printer.json) {
    for (const job of jobs) printer.object(job);
    return EXIT.success;
  }
  if (jobs.length === 0) {
    printer.notice(status || q ? 'no jobs match' : 'no jobs yet');
    return EXIT.success;
  }
  const now = Date.now();
  const rows = jobs.map((job) => [
    job.id,
    job.status,
    ago(job.createdAt, now),
    duration(job, now),
    job.exitCode === undefined ? '-' : String(job.exitCode),
    job.owner,
    job.title,
  ]);
  const header = ['ID', 'STATUS', 'STARTED', 'DURATION', 'EXIT', 'OWNER', 'TITLE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  // Padded to each column's width (the title, last, is not); the status in its colour.
  const format = (row: string[], status?: Job['status']) =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        return status && i === 1 ? printer.style(padded, STATUS_COLORS[status]) : padded;
      })
      .join('  ');
  printer.text(printer.style(format(header), 'bold'));
  rows.forEach((row, i) => printer.text(format(row, jobs[i]?.status)));
  return EXIT.success;
}

interface SearchAnswer {
  matches: { seq: number; line: string }[];
  total: number;
  truncated: boolean;
}

/** `search`: the job's lines containing `text` (ANSI ignored, any case), each with its number. */
export async function search(
  api: GatewayApi,
  printer: Printer,
  { id, text, limit }: { id: string; text: string; limit: number },
): Promise<number> {
  const params = new URLSearchParams({ q: text, limit: String(limit) });
  const answer = await api.get<SearchAnswer>(
    `/api/jobs/${encodeURIComponent(id)}/search?${params.toString()}`,
    id,
  );
  if (printer.json) {
    for (const match of answer.matches) printer.object(match);
  } else {
    const width = String(answer.matches.at(-1)?.seq ?? 0).length;
    for (const match of answer.matches)
      printer.line(match.line, printer.style(`${String(match.seq).padStart(width)}: `, 'dim'));
  }
  if (answer.truncated)
    printer.notice(`showing ${answer.matches.length} of ${answer.total} matches (--limit shows more)`);
  else if (answer.total === 0 && !printer.json) printer.notice(`no line of job ${id} contains "${text}"`);
  // As grep: 1 when nothing matched, so `jobstream search $J error && …` reads naturally.
  return answer.total > 0 ? EXIT.success : EXIT.failed;
}

/** `cancel`: asks the job's runner to stop; 1 when the job had already finished. */
export async function cancel(api: GatewayApi, printer: Printer, { id }: { id: string }): Promise<number> {
  const job = await api.post<Job>(`/api/jobs/${encodeURIComponent(id)}/cancel`, id);
  if (printer.json) printer.object(job);
  else printer.notice(`cancel requested for job ${id} (${job.status}); its runner stops the command`);
  return EXIT.success;
}
