/**
 * npm run jobrun -- [--title T] [--owner U] [--id J] [--kill-grace S] -- <command…>
 *
 * Runs a real command as a job: creates it, streams stdout and stderr line by line (and passes
 * them through to this terminal), sets success/failed from the exit code. Ctrl-C, SIGTERM and a
 * cancel asked for from the dashboard or the API are forwarded to the command as SIGTERM; a
 * command still running `--kill-grace` seconds later (JOBRUN_KILL_GRACE_S, default 10: shorter
 * than the gateway's JOBSTREAM_CANCEL_GRACE_S, so the runner, not the reaper, finishes the job
 * with what the command printed) is killed with SIGKILL. The job then ends `cancelled`. Prints
 * the job id on stderr first.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { JOB_ID_PATTERN } from '../shared/job.js';
import { LineSplitter } from '../shared/line-splitter.js';
import { JobPublisher } from '../shared/publisher.js';
import { connectTo, describeTarget, redisTargetFromEnv } from '../shared/redis/connect.js';

const USAGE = 'usage: npm run jobrun -- [--title T] [--owner U] [--id J] [--kill-grace S] -- <command…>';
const DEFAULT_KILL_GRACE_S = 10;

function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      title: { type: 'string' },
      owner: { type: 'string' },
      id: { type: 'string' },
      'kill-grace': { type: 'string' },
    },
    allowPositionals: true,
  });
  const [command, ...args] = positionals;
  if (command === undefined) {
    console.error(USAGE);
    return 2;
  }
  const graceText = values['kill-grace'] ?? process.env.JOBRUN_KILL_GRACE_S ?? String(DEFAULT_KILL_GRACE_S);
  const killGraceS = Number(graceText);
  if (graceText.trim() === '' || !Number.isFinite(killGraceS) || killGraceS < 0) {
    console.error(`jobrun: --kill-grace "${graceText}" must be a number of seconds ≥ 0`);
    return 2;
  }
  const id = values.id ?? newJobId();
  if (!JOB_ID_PATTERN.test(id)) {
    console.error(`jobrun: job id "${id}" must match [A-Za-z0-9._-]{1,128}`);
    return 2;
  }
  // REDIS_CLUSTER_NODES or REDIS_URL (and credentials), exactly as the gateway reads them.
  const target = redisTargetFromEnv();
  const redis = connectTo(target, { lazyConnect: true, maxRetriesPerRequest: 3 }, { lazyConnect: true });
  let publisher: JobPublisher;
  try {
    publisher = await JobPublisher.create(redis, {
      id,
      owner: values.owner ?? process.env.JOBSTREAM_OWNER ?? userInfo().username,
      title: values.title ?? [command, ...args].join(' '),
    });
  } catch (error) {
    redis.disconnect();
    // Never run the command with nowhere to write its output: say where it tried, and fail.
    throw new Error(`could not create the job in ${describeTarget(target)}: ${(error as Error).message}`);
  }
  redis.disconnect(); // the publisher runs on a connection of its own
  publisher.on('drop', (count) => console.error(`jobrun: Redis unreachable, dropped ${count} lines`));
  console.error(`jobrun: job ${id}`);
  await publisher.start();

  const child = spawn(command, args, { stdio: ['inherit', 'pipe', 'pipe'] });
  const out = new LineSplitter((line) => publisher.stdout(line));
  const err = new LineSplitter((line) => publisher.stderr(line));
  child.stdout.on('data', (chunk: Buffer) => {
    out.write(chunk);
    process.stdout.write(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err.write(chunk);
    process.stderr.write(chunk);
  });

  let interrupted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      child.kill('SIGKILL'); // a second Ctrl-C does not wait
      return;
    }
    interrupted = true;
    child.kill(signal);
    // A command that ignores SIGTERM is not allowed to outlive the grace.
    killTimer = setTimeout(() => {
      console.error(`jobrun: ${command} still running ${killGraceS} s after ${signal}; sending SIGKILL`);
      child.kill('SIGKILL');
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

  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      // 'close', not 'exit': every byte of stdout and stderr has been read by then
      child.once('close', (code, signal) => resolve({ code, signal }));
    },
  );
  clearTimeout(killTimer);
  out.end();
  err.end();

  let exitCode: number;
  if (endedElsewhere !== null) {
    await publisher.close();
    console.error(`jobrun: job ${id} had already ended: ${endedElsewhere}`);
    return 1;
  }
  if (outcome.error) {
    publisher.stderr(`jobrun: could not start ${command}: ${outcome.error.message}`);
    await publisher.finish(127, { errorMessage: `could not start ${command}: ${outcome.error.message}` });
    exitCode = 127;
  } else if (interrupted) {
    await publisher.cancel(
      `${publisher.cancelRequested > 0 ? 'cancelled on request' : 'interrupted'} (${outcome.signal ?? `exit code ${outcome.code}`})`,
    );
    exitCode = 130;
  } else if (outcome.signal) {
    await publisher.finish(128, { errorMessage: `killed by ${outcome.signal}` });
    exitCode = 128;
  } else {
    exitCode = outcome.code ?? 1;
    await publisher.finish(exitCode);
  }
  await publisher.close();
  console.error(`jobrun: job ${id} ended: ${publisher.currentStatus}`);
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`jobrun: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
