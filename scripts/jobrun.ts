/**
 * npm run jobrun -- [--title T] [--owner U] [--id J] [--kill-grace S] [--pty] [--url URL --token T] -- <command…>
 *
 * Runs a real command as a job (docs/runners.md "What the command wrote is what the job holds"):
 * every line it writes is stored, in order, however fast it writes (lines Redis has not taken yet
 * wait in a spool file; only a full spool drops, and the job and this terminal say so); a line
 * still being written (a `\r` progress bar) is live on the dashboard. Without `--pty`, stdout and
 * stderr are kept apart and interleaved in the order their bytes arrived; with it, the command
 * runs under a pseudo-terminal: one stream in exactly the order written, colours and animations
 * as in a terminal. The exit code is passed through; the job ends only once every line is stored.
 *
 * Ctrl-C, SIGTERM and a cancel asked for from the dashboard or the API are forwarded to the
 * command as SIGTERM; a command still running `--kill-grace` seconds later (JOBRUN_KILL_GRACE_S,
 * default 10: shorter than the gateway's JOBSTREAM_CANCEL_GRACE_S, so the runner, not the reaper,
 * finishes the job with what the command printed) is killed with SIGKILL; the job then ends
 * `cancelled`.
 */
import { randomBytes } from 'node:crypto';
import { constants, userInfo } from 'node:os';
import { JOB_ID_PATTERN } from '../shared/job.js';
import { JobPublisher, type DropReason, type JobPublisherOptions } from '../shared/runner/publisher.js';
import type { NewJob } from '../shared/redis/functions.js';
import { HttpJobPublisher, type RunnerPublisher } from '../shared/runner/http-publisher.js';
import { connectTo, describeTarget, redisTargetFromEnv } from '../shared/redis/connect.js';
import { readCommandLine, usageError } from './lib/cli.js';
import { ptySize, startCommand, type CommandOutcome } from './lib/job-command.js';
import { OutputRelay } from './lib/output-relay.js';

const HELP = {
  usage:
    'usage: npm run jobrun -- [--title T] [--owner U] [--id J] [--kill-grace S] [--pty] [--url URL --token T] -- <command…>',
  description: `
Runs <command…> as a jobstream job: every line it writes to stdout and stderr is stored in
Redis in order (however fast it writes), a line still being written (a \\r progress bar) is
shown live, and the command's exit code is passed through.

  --title T         the job's title (default: the command line)
  --owner U         who owns the job (default: JOBSTREAM_OWNER, else your user name)
  --id J            the job's id (default: a new one), [A-Za-z0-9._-]{1,128}
  --kill-grace S    seconds between SIGTERM and SIGKILL when stopping the command
                    (default: JOBRUN_KILL_GRACE_S, else 10)
  --pty             run the command under a pseudo-terminal (util-linux \`script\`): one stream in
                    exactly the order written, colours and progress bars as in a terminal
  --url URL         write through the gateway at URL (JOBSTREAM_URL) instead of Redis: no Redis
                    access needed, retried through gateway restarts (docs/runners.md "Over HTTP")
  --token T         with --url: a runner, admin or user token to create the job (JOBSTREAM_TOKEN)
  -h, --help        this text

Environment: REDIS_URL or REDIS_CLUSTER_NODES (and REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS),
as the gateway reads them; JOBSTREAM_DASHBOARD_URL, the dashboard's address, to print the job's;
JOBRUN_SPOOL_MAX_BYTES (default 1 GiB) and JOBRUN_SPOOL_DIR (default the system's temporary
folder) for the spool that holds lines Redis has not taken yet.`,
};
const DEFAULT_KILL_GRACE_S = 10;
const DEFAULT_SPOOL_MAX_BYTES = 1024 ** 3;

function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** A whole number from the environment or a flag, or a usage error naming it. */
function wholeNumber(text: string, what: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    usageError(HELP, `jobrun: ${what} "${text}" must be a number ≥ 0`);
  return value;
}

/** What the shell says for a command that ended: its code, or 128 + the signal's number. */
function exitCodeOf({ code, signal }: CommandOutcome): number {
  return signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1);
}

async function main(): Promise<number> {
  const { values, positionals } = readCommandLine(HELP, {
    options: {
      title: { type: 'string' },
      owner: { type: 'string' },
      id: { type: 'string' },
      'kill-grace': { type: 'string' },
      pty: { type: 'boolean', default: false },
      url: { type: 'string' },
      token: { type: 'string' },
    },
    allowPositionals: true,
  });
  const [command, ...args] = positionals;
  if (command === undefined) usageError(HELP, 'jobrun: no command given');
  const killGraceS = wholeNumber(
    values['kill-grace'] ?? process.env.JOBRUN_KILL_GRACE_S ?? String(DEFAULT_KILL_GRACE_S),
    '--kill-grace',
  );
  const spoolMaxBytes = wholeNumber(
    process.env.JOBRUN_SPOOL_MAX_BYTES ?? String(DEFAULT_SPOOL_MAX_BYTES),
    'JOBRUN_SPOOL_MAX_BYTES',
  );
  const id = values.id ?? newJobId();
  if (!JOB_ID_PATTERN.test(id)) usageError(HELP, `jobrun: job id "${id}" must match [A-Za-z0-9._-]{1,128}`);

  const job = {
    id,
    owner: values.owner ?? process.env.JOBSTREAM_OWNER ?? userInfo().username,
    title: values.title ?? [command, ...args].join(' '),
  };
  const options = {
    spoolMaxBytes,
    ...(process.env.JOBRUN_SPOOL_DIR ? { spoolDir: process.env.JOBRUN_SPOOL_DIR } : {}),
  };
  const url = values.url ?? process.env.JOBSTREAM_URL;
  const publisher: RunnerPublisher = url
    ? await overHttp(url, values.token ?? process.env.JOBSTREAM_TOKEN, job, options)
    : await overRedis(job, options);
  const dashboard = process.env.JOBSTREAM_DASHBOARD_URL?.replace(/\/+$/, '');
  console.error(
    dashboard ? `jobrun: job ${id}: ${dashboard}/jobs/${encodeURIComponent(id)}` : `jobrun: job ${id}`,
  );
  const reportRemainingDrops = reportDrops(publisher);
  await publisher.start();

  const running = startCommand(command, args, values.pty ? ptySize() : null);
  const relay = new OutputRelay(publisher);
  relay.add('stdout', running.stdout, process.stdout);
  if (running.stderr) relay.add('stderr', running.stderr, process.stderr);

  let interrupted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      running.signal('SIGKILL'); // a second Ctrl-C does not wait
      return;
    }
    interrupted = true;
    running.signal(signal);
    // A command that ignores SIGTERM is not allowed to outlive the grace.
    killTimer = setTimeout(() => {
      console.error(`jobrun: ${command} still running ${killGraceS} s after ${signal}; sending SIGKILL`);
      running.signal('SIGKILL');
    }, killGraceS * 1000);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  // A cancel asked for from the dashboard or the API: stop the command as Ctrl-C would.
  publisher.on('cancel', () => {
    console.error(`jobrun: job ${id}: cancel requested; stopping ${command}`);
    forward('SIGTERM');
  });
  // Finished without us (the gateway's reaper): stop the command; the job's status stays as set.
  let endedElsewhere: string | null = null;
  publisher.on('ended', (error) => {
    endedElsewhere = error.message;
    console.error(`jobrun: job ${id} was ended by the gateway (${error.message}); stopping ${command}`);
    forward('SIGTERM');
  });

  const outcome = await running.outcome;
  clearTimeout(killTimer);
  relay.end();
  giveUpOnSignal(publisher);
  if (publisher.bufferedLines > 10_000)
    console.error(
      `jobrun: ${command} ended; storing the ${publisher.bufferedLines} lines Redis has not taken yet`,
    );

  if (endedElsewhere !== null) {
    await publisher.close();
    reportRemainingDrops();
    console.error(
      `jobrun: job ${id} had already ended (${endedElsewhere}); ${publisher.droppedLines} lines could not be stored`,
    );
    return 1;
  }
  let exitCode: number;
  if (outcome.notStarted) {
    const { exitCode: code, message } = outcome.notStarted;
    console.error(`jobrun: ${message}`);
    publisher.stderr(`jobrun: ${message}`);
    await publisher.finish(code, { errorMessage: message });
    exitCode = code;
  } else if (interrupted) {
    await publisher.cancel(
      `${publisher.cancelRequested > 0 ? 'cancelled on request' : 'interrupted'} (${outcome.signal ?? `exit code ${outcome.code}`})`,
    );
    exitCode = 130;
  } else {
    exitCode = exitCodeOf(outcome);
    await publisher.finish(exitCode, outcome.signal ? { errorMessage: `killed by ${outcome.signal}` } : {});
  }
  await publisher.close();
  reportRemainingDrops();
  console.error(`jobrun: job ${id} ended: ${publisher.currentStatus}`);
  // The command's code, unless lines it wrote were lost: then the run did not do what it says.
  return publisher.droppedLines > 0 && exitCode === 0 ? 1 : exitCode;
}

/** The job created in Redis (REDIS_URL or REDIS_CLUSTER_NODES and credentials, as the gateway reads them). */
async function overRedis(job: NewJob, options: JobPublisherOptions): Promise<JobPublisher> {
  const target = redisTargetFromEnv();
  const redis = connectTo(target, { lazyConnect: true, maxRetriesPerRequest: 3 }, { lazyConnect: true });
  try {
    return await JobPublisher.create(redis, job, options);
  } catch (error) {
    // Never run the command with nowhere to write its output: say where it tried, and fail.
    throw new Error(`could not create the job in ${describeTarget(target)}: ${(error as Error).message}`);
  } finally {
    redis.disconnect(); // the publisher runs on a connection of its own
  }
}

/** The job created through the gateway's HTTP ingest: no Redis needed, only a sign-in token. */
async function overHttp(
  url: string,
  token: string | undefined,
  job: NewJob,
  options: JobPublisherOptions,
): Promise<HttpJobPublisher> {
  if (!token)
    usageError(HELP, 'jobrun: --url needs --token (or JOBSTREAM_TOKEN): a runner, admin or user token');
  try {
    return await HttpJobPublisher.create(url, token, job, options);
  } catch (error) {
    throw new Error(`could not create the job at ${url}: ${(error as Error).message}`);
  }
}

/**
 * Dropped lines (only a full spool drops) are told on this terminal at once, then at most once a
 * second; returns what tells the rest before jobrun exits.
 */
function reportDrops(publisher: RunnerPublisher): () => void {
  const counts = new Map<DropReason, number>();
  let scheduled: NodeJS.Timeout | null = null;
  let reportedAt = 0;
  const report = (): void => {
    if (scheduled) clearTimeout(scheduled);
    scheduled = null;
    reportedAt = Date.now();
    for (const [reason, count] of counts)
      console.error(
        `jobrun: the spool is full: dropped ${count} lines ${
          reason === 'unreachable'
            ? 'while Redis was unreachable'
            : 'because Redis stored lines more slowly than the command wrote them'
        } (JOBRUN_SPOOL_MAX_BYTES raises the limit)`,
      );
    counts.clear();
  };
  publisher.on('drop', (count, reason) => {
    counts.set(reason, (counts.get(reason) ?? 0) + count);
    scheduled ??= setTimeout(report, Math.max(0, reportedAt + 1000 - Date.now()));
  });
  return report;
}

/**
 * After the command ended, jobrun waits until every line is stored. Ctrl-C (or SIGTERM) then
 * stops waiting: say how many lines were never stored and exit non-zero.
 */
function giveUpOnSignal(publisher: RunnerPublisher): void {
  process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
  const giveUp = (): void => {
    console.error(`jobrun: stopped waiting for Redis; ${publisher.bufferedLines} lines were not stored`);
    process.exit(1);
  };
  process.on('SIGINT', giveUp);
  process.on('SIGTERM', giveUp);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`jobrun: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
