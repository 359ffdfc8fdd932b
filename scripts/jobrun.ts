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
import { userInfo } from 'node:os';
import { JOB_ID_PATTERN } from '../shared/job.js';
import { JobPublisher, type JobPublisherOptions } from '../shared/runner/publisher.js';
import type { NewJob } from '../shared/redis/functions.js';
import { HttpJobPublisher } from '../shared/runner/http-publisher.js';
import type { LinePublisher } from '../shared/runner/line-publisher.js';
import { connectTo, describeTarget, redisTargetFromEnv } from '../shared/redis/connect.js';
import { readCommandLine, usageError } from './lib/cli.js';
import { ptySize } from './lib/job-command.js';
import { runAsJob } from './lib/run-as-job.js';

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
folder) for the spool that holds lines Redis has not taken yet; JOBRUN_HEARTBEAT_MS (default
5000) when the gateway's JOBSTREAM_RUNNER_TIMEOUT_S is short.`,
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
  // A gateway with a short JOBSTREAM_RUNNER_TIMEOUT_S needs heartbeats well inside it.
  const heartbeatMs = process.env.JOBRUN_HEARTBEAT_MS
    ? Math.max(100, wholeNumber(process.env.JOBRUN_HEARTBEAT_MS, 'JOBRUN_HEARTBEAT_MS'))
    : undefined;
  const options = {
    spoolMaxBytes,
    ...(process.env.JOBRUN_SPOOL_DIR ? { spoolDir: process.env.JOBRUN_SPOOL_DIR } : {}),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
  };
  const url = values.url ?? process.env.JOBSTREAM_URL;
  const publisher: LinePublisher = url
    ? await overHttp(url, values.token ?? process.env.JOBSTREAM_TOKEN, job, options)
    : await overRedis(job, options);
  const dashboard = process.env.JOBSTREAM_DASHBOARD_URL?.replace(/\/+$/, '');
  console.error(
    dashboard ? `jobrun: job ${id}: ${dashboard}/jobs/${encodeURIComponent(id)}` : `jobrun: job ${id}`,
  );
  return runAsJob(publisher, {
    program: 'jobrun',
    store: url ? 'the gateway' : 'Redis',
    command,
    args,
    pty: values.pty ? ptySize() : null,
    killGraceS,
  });
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
    return await HttpJobPublisher.create(url, token, job, options, (notice) =>
      console.error(`jobrun: ${notice}`),
    );
  } catch (error) {
    throw new Error(`could not create the job at ${url}: ${(error as Error).message}`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`jobrun: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
