/**
 * Every exit code of `jobstream`, in one place. A followed job's outcome comes first, so
 * `jobstream logs -f $J && deploy` does what it says; the CLI's own failures use the BSD
 * sysexits codes, so a script can tell "the job failed" from "could not find out".
 */
import type { Job, JobStatus } from '../../client/src/index.js';

export const EXIT = {
  /** The job succeeded (or the command did what was asked). */
  success: 0,
  /** The job failed (or the command could not do what was asked: a job already finished). */
  failed: 1,
  /** The job's runner was lost: the gateway ended it after the runner went silent. */
  lost: 2,
  /** The job was cancelled, or this program was interrupted (Ctrl-C). */
  cancelled: 130,
  /** The command line is wrong (EX_USAGE). */
  usage: 64,
  /** No such job, or not yours (EX_NOINPUT). */
  notFound: 66,
  /** The gateway cannot be reached or cannot serve now (EX_UNAVAILABLE). */
  unavailable: 69,
  /** Not signed in, or the token is refused (EX_NOPERM). */
  notSignedIn: 77,
} as const;

/** What the gateway's reaper writes on a job whose runner went silent (docs/operations.md, the reaper). */
const RUNNER_LOST = /^runner lost\b/;

/** The exit code that says how a finished job ended. */
export function outcomeExitCode(status: JobStatus, job: Pick<Job, 'errorMessage'> | null): number {
  switch (status) {
    case 'success':
      return EXIT.success;
    case 'cancelled':
      return EXIT.cancelled;
    case 'failed':
      return RUNNER_LOST.test(job?.errorMessage ?? '') ? EXIT.lost : EXIT.failed;
    default:
      return EXIT.failed; // not finished: never asked for
  }
}

/** A failure the CLI explains in one line (what happened and what to do) and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
