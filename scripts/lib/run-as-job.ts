/**
 * Runs a command as a job through a publisher (Redis or the gateway's HTTP ingest): its stdout and
 * stderr relayed line by line, signals and a cancel asked for elsewhere forwarded to it (SIGTERM,
 * then SIGKILL after the grace), the job finished with its exit code once every line is stored.
 * What `npm run jobrun` and `jobstream run` both do (docs/runners.md).
 */
import { constants } from 'node:os';
import type { DropReason } from '../../shared/runner/outgoing-lines.js';
import type { LinePublisher } from '../../shared/runner/line-publisher.js';
import { startCommand, type CommandOutcome, type PtyOptions } from './job-command.js';
import { OutputRelay } from './output-relay.js';

export interface RunAsJobOptions {
  /** How messages on this terminal begin: `jobrun`, `jobstream`. */
  program: string;
  /** Where lines go, in messages: `Redis`, `the gateway`. */
  store: string;
  command: string;
  args: string[];
  /** Run under a pseudo-terminal of this size (`--pty`), or with pipes. */
  pty: PtyOptions | null;
  /** Seconds between SIGTERM and SIGKILL when stopping the command. */
  killGraceS: number;
}

/** What the shell says for a command that ended: its code, or 128 + the signal's number. */
function exitCodeOf({ code, signal }: CommandOutcome): number {
  return signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1);
}

/** Runs the command as the publisher's job; resolves with the exit code to pass on. */
export async function runAsJob(
  publisher: LinePublisher,
  { program, store, command, args, pty, killGraceS }: RunAsJobOptions,
): Promise<number> {
  const reportRemainingDrops = reportDrops(publisher, program, store);
  await publisher.start();

  const running = startCommand(command, args, pty);
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
      console.error(`${program}: ${command} still running ${killGraceS} s after ${signal}; sending SIGKILL`);
      running.signal('SIGKILL');
    }, killGraceS * 1000);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  // A cancel asked for from the dashboard or the API: stop the command as Ctrl-C would.
  publisher.on('cancel', () => {
    console.error(`${program}: job ${publisher.jobId}: cancel requested; stopping ${command}`);
    forward('SIGTERM');
  });
  // Finished without us (the gateway's reaper): stop the command; the job's status stays as set.
  let endedElsewhere: string | null = null;
  publisher.on('ended', (error) => {
    endedElsewhere = error.message;
    console.error(
      `${program}: job ${publisher.jobId} was ended by the gateway (${error.message}); stopping ${command}`,
    );
    forward('SIGTERM');
  });

  const outcome = await running.outcome;
  clearTimeout(killTimer);
  relay.end();
  giveUpOnSignal(publisher, program, store);
  if (publisher.bufferedLines > 10_000)
    console.error(
      `${program}: ${command} ended; storing the ${publisher.bufferedLines} lines ${store} has not taken yet`,
    );

  if (endedElsewhere !== null) {
    await publisher.close();
    reportRemainingDrops();
    console.error(
      `${program}: job ${publisher.jobId} had already ended (${endedElsewhere}); ${publisher.droppedLines} lines could not be stored`,
    );
    return 1;
  }
  let exitCode: number;
  if (outcome.notStarted) {
    const { exitCode: code, message } = outcome.notStarted;
    console.error(`${program}: ${message}`);
    publisher.stderr(`${program}: ${message}`);
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
  console.error(`${program}: job ${publisher.jobId} ended: ${publisher.currentStatus}`);
  // The command's code, unless lines it wrote were lost: then the run did not do what it says.
  return publisher.droppedLines > 0 && exitCode === 0 ? 1 : exitCode;
}

/**
 * Dropped lines (only a full spool drops) are told on this terminal at once, then at most once a
 * second; returns what tells the rest before jobrun exits.
 */
function reportDrops(publisher: LinePublisher, program: string, store: string): () => void {
  const counts = new Map<DropReason, number>();
  let scheduled: NodeJS.Timeout | null = null;
  let reportedAt = 0;
  const report = (): void => {
    if (scheduled) clearTimeout(scheduled);
    scheduled = null;
    reportedAt = Date.now();
    for (const [reason, count] of counts)
      console.error(
        `${program}: the spool is full: dropped ${count} lines ${
          reason === 'unreachable'
            ? `while ${store} was unreachable`
            : `because ${store} stored lines more slowly than the command wrote them`
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
 * After the command ended, the runner waits until every line is stored. Ctrl-C (or SIGTERM) then
 * stops waiting: say how many lines were never stored and exit non-zero.
 */
function giveUpOnSignal(publisher: LinePublisher, program: string, store: string): void {
  process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
  const giveUp = (): void => {
    console.error(
      `${program}: stopped waiting for ${store}; ${publisher.bufferedLines} lines were not stored`,
    );
    process.exit(1);
  };
  process.on('SIGINT', giveUp);
  process.on('SIGTERM', giveUp);
}
