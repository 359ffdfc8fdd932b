/**
 * `jobstream watch <id…>` / `--running`: several jobs over one WebSocket, their lines interleaved
 * as they come, each behind its id in a colour of its own (as `docker compose logs -f` does).
 * Named jobs: exits when all have ended, 0 when all succeeded, else the exit code of the first
 * (in the order named) that did not. `--running`: every running job, and each that starts later,
 * until Ctrl-C.
 */
import { isTerminal } from '../../../shared/job.js';
import type { Job } from '../../client/src/index.js';
import type { Credentials } from './credentials.js';
import { EXIT, outcomeExitCode } from './exit-codes.js';
import { Follower, type JobEnd } from './follow.js';
import type { GatewayApi } from './gateway-api.js';
import { printEvent } from './logs.js';
import type { Printer } from './terminal.js';

export interface WatchOptions {
  ids: string[];
  running: boolean;
  since: number | undefined;
  tail: number;
}

/** The widest prefix; longer ids are cut from the left, where ids share their time part. */
const MAX_PREFIX = 24;

export async function watch(
  api: GatewayApi,
  credentials: Credentials,
  printer: Printer,
  options: WatchOptions,
): Promise<number> {
  const follower = new Follower(credentials, printer, { maxLines: Math.max(1000, options.tail) });
  let width = Math.min(MAX_PREFIX, Math.max(0, ...options.ids.map((id) => id.length)));
  let count = 0;
  const position = options.since !== undefined ? { since: options.since } : { tail: options.tail };

  const start = (job: Pick<Job, 'id'>): Promise<JobEnd> | null => {
    if (follower.isFollowing(job.id)) return null;
    const index = count++;
    width = Math.max(width, Math.min(MAX_PREFIX, job.id.length));
    const prefixOf = () =>
      printer.prefix(job.id.length > width ? `…${job.id.slice(-(width - 1))}` : job.id, index, width);
    const ended = follower.follow(job.id, position, (event) =>
      printEvent(printer, job.id, event, prefixOf()),
    );
    return ended.then((end) => {
      if (!printer.json) printer.line(printer.style(`ended: ${describeEnd(end)}`, 'dim'), prefixOf());
      return end;
    });
  };

  try {
    if (options.running) {
      await watchRunning(api, follower, printer, start);
      return EXIT.success; // not reached: runs until interrupted
    }
    // Every named job is checked first: a typo fails at once, not after the others end.
    await Promise.all(options.ids.map((id) => api.job(id)));
    follower.connect();
    const ends = await Promise.all(options.ids.map((id) => start({ id }) ?? Promise.resolve(null)));
    for (const end of ends) {
      if (!end) continue;
      const code = outcomeExitCode(end.status, end.job);
      if (code !== EXIT.success) return code;
    }
    return EXIT.success;
  } finally {
    follower.close();
  }
}

/** Every job running now and each one that starts later (the jobs feed), until interrupted. */
async function watchRunning(
  api: GatewayApi,
  follower: Follower,
  printer: Printer,
  start: (job: Pick<Job, 'id'>) => Promise<JobEnd> | null,
): Promise<never> {
  // A job the gateway refuses (more than its subscriptions allow, say) is said, and the rest go on.
  const startEach = (jobs: Job[]) => {
    for (const job of jobs)
      if (!isTerminal(job.status))
        void start(job)?.catch((error: Error) => printer.notice(`not following ${job.id}: ${error.message}`));
  };
  const socket = follower.jobSocket;
  socket.watchJobs((job) => startEach([job]));
  // The feed sends no snapshot: list what runs once the watch is in effect, and after every gap.
  socket.onFeedReady(() => {
    void Promise.all([api.jobs({ status: 'running' }, 1000), api.jobs({ status: 'queued' }, 1000)]).then(
      ([running, queued]) => startEach([...queued, ...running].reverse()),
      (error: Error) =>
        printer.notice(`could not list the running jobs (${error.message}); new ones still show`),
    );
  });
  follower.connect();
  return new Promise<never>(() => undefined);
}

function describeEnd(end: JobEnd): string {
  const code = end.job?.exitCode;
  const reason = end.job?.errorMessage;
  return `${end.status}${code !== undefined ? ` (exit code ${code})` : ''}${reason && end.status !== 'success' ? `: ${reason}` : ''}`;
}
