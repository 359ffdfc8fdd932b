/**
 * `jobstream run [--title T] [--pty] -- <command…>`: runs a command as a job through the gateway's
 * HTTP ingest (no Redis access needed), as `npm run jobrun -- --url` does: every line stored in
 * order, the exit code passed through, the job's address printed.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { HttpJobPublisher } from '../../../shared/runner/http-publisher.js';
import { ptySize } from '../../../scripts/lib/job-command.js';
import { runAsJob } from '../../../scripts/lib/run-as-job.js';
import { claims } from '../../client/src/index.js';
import type { Credentials } from './credentials.js';
import { CliError, EXIT } from './exit-codes.js';

/** Seconds between SIGTERM and SIGKILL when the job is cancelled (jobrun's default). */
const KILL_GRACE_S = 10;

export async function run(
  credentials: Credentials,
  { command, args, title, pty }: { command: string; args: string[]; title: string | undefined; pty: boolean },
): Promise<number> {
  const who = claims(credentials.token);
  const job = {
    id: `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
    // A user's token may create its own jobs only; a runner's names the owner (docs/runners.md "Over HTTP").
    owner: who && who.role !== 'runner' ? who.sub : (process.env.JOBSTREAM_OWNER ?? userInfo().username),
    title: title ?? [command, ...args].join(' '),
  };
  let publisher: HttpJobPublisher;
  try {
    publisher = await HttpJobPublisher.create(credentials.url, credentials.token, job, {}, (notice) =>
      process.stderr.write(`jobstream: ${notice}\n`),
    );
  } catch (error) {
    const message = (error as Error).message;
    throw new CliError(
      `could not create the job at ${credentials.url}: ${message}`,
      /^HTTP 401\b/.test(message)
        ? EXIT.notSignedIn
        : /^HTTP 4/.test(message)
          ? EXIT.failed
          : EXIT.unavailable,
    );
  }
  process.stderr.write(`jobstream: job ${job.id}: ${credentials.url}/jobs/${encodeURIComponent(job.id)}\n`);
  return runAsJob(publisher, {
    program: 'jobstream',
    store: 'the gateway',
    command,
    args,
    pty: pty ? ptySize() : null,
    killGraceS: KILL_GRACE_S,
  });
}
