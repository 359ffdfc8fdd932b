/**
 * `npm run jobrun` as people run it: a real process around a real command, against a real Redis:
 * exit codes, streams, signals, cancel, the command line. Fidelity under load and faults (every
 * line, in order, through a slow link, a paused Redis, a full spool; --pty; progress) is
 * jobrun-fidelity.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { OutputLine } from '../../shared/protocol.js';
import { getJob, requestCancel } from '../../shared/redis/functions.js';
import { storedLines } from '../../shared/testing/output.js';
import { jobrunOn } from '../lib/jobrun-process.js';
import { PrivateRedis } from '../lib/private-redis.js';

let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
});
afterAll(() => server.stop());

/** Runs `npm run jobrun` as its own process (node + tsx, so that signals reach jobrun itself). */
const jobrun = jobrunOn(() => server.url);

const lines = (id: string): Promise<OutputLine[]> => storedLines(redis, id);

const id = (name: string): string => `${server.namespace()}-${name}`;

describe('npm run jobrun', () => {
  it('streams lines with Redis timestamps and fails the job with the exit code', async () => {
    const job = id('exit3');
    const run = await jobrun(job, ['bash', '-c', 'for i in $(seq 3); do echo line $i; done; exit 3']);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain(`job ${job}`);
    const stored = await lines(job);
    expect(stored.map((l) => [l.seq, l.line])).toEqual([
      [1, 'line 1'],
      [2, 'line 2'],
      [3, 'line 3'],
    ]);
    const details = await getJob(redis, job);
    expect(details).toMatchObject({
      status: 'failed',
      exitCode: 3,
      errorMessage: 'exit code 3',
      owner: 'alice',
    });
    for (const l of stored) expect(l.ts).toBeGreaterThanOrEqual(details!.startedAt!);
  }, 30_000);

  it('keeps stdout and stderr apart, handles \\r progress, a partial last line and invalid UTF-8', async () => {
    const job = id('mixed');
    const script = [
      'echo out1',
      'echo err1 >&2',
      "printf '10%%\\r50%%\\r100%%\\n'",
      "printf 'bad \\377 byte\\n'",
      "printf 'no newline'",
    ].join('; ');
    const run = await jobrun(job, ['bash', '-c', script]);
    expect(run.exitCode).toBe(0);
    const stored = await lines(job);
    const byStream = (s: string): string[] => stored.filter((l) => l.stream === s).map((l) => l.line);
    expect(byStream('stdout')).toEqual(['out1', '100%', 'bad \uFFFD byte', 'no newline']);
    expect(byStream('stderr')).toEqual(['err1']);
    expect(stored.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    expect((await getJob(redis, job))?.status).toBe('success');
  }, 30_000);

  it('cuts a 1 MiB line and keeps going', async () => {
    const job = id('huge');
    const run = await jobrun(job, ['bash', '-c', "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo after"]);
    expect(run.exitCode).toBe(0);
    const [huge, after] = await lines(job);
    expect(huge!.line).toMatch(/^x+ \[truncated \d+ bytes\]$/);
    expect(Buffer.byteLength(huge!.line)).toBeLessThanOrEqual(16_384);
    expect(after!.line).toBe('after');
  }, 30_000);

  it('forwards Ctrl-C to the command and marks the job cancelled', async () => {
    const job = id('sigint');
    let sent = false;
    const run = await jobrun(job, ['bash', '-c', 'echo started; exec sleep 30'], {
      onStdout: (out, kill) => {
        if (!sent && out.includes('started')) {
          sent = true;
          kill('SIGINT');
        }
      },
    });
    expect(run.exitCode).toBe(130);
    const details = await getJob(redis, job);
    expect(details?.status).toBe('cancelled');
    expect(details?.errorMessage).toContain('interrupted');
    expect((await lines(job)).map((l) => l.line)).toEqual(['started']);
  }, 30_000);

  it('a cancel sends SIGTERM; a command that ignores it is killed after --kill-grace, its output kept', async () => {
    const job = id('stubborn');
    let asked = false;
    const started = Date.now();
    const run = await jobrun(
      job,
      ['bash', '-c', 'trap "echo got TERM, ignoring it" TERM; echo started; while true; do sleep 0.1; done'],
      {
        onStdout: (out) => {
          if (!asked && out.includes('started')) {
            asked = true;
            void requestCancel(redis, job, 'bob');
          }
        },
        flags: ['--kill-grace', '1'],
      },
    );
    expect(run.exitCode).toBe(130);
    expect(run.stderr).toContain('sending SIGKILL');
    expect(Date.now() - started).toBeLessThan(15_000); // the grace, not the 10 s default or the reaper
    expect(await getJob(redis, job)).toMatchObject({
      status: 'cancelled',
      cancelRequestedBy: 'bob',
      errorMessage: expect.stringContaining('SIGKILL'),
    });
    expect((await lines(job)).map((l) => l.line)).toEqual(['started', 'got TERM, ignoring it']);
  }, 30_000);

  it('refuses a kill grace that is not a number of seconds', async () => {
    const run = await jobrun(id('badgrace'), ['true'], { flags: ['--kill-grace', 'soon'] });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--kill-grace');
  }, 30_000);

  it("a command that does not exist: 127, the shell's message on the terminal and in the job", async () => {
    const job = id('enoent');
    const run = await jobrun(job, ['definitely-not-a-command-jobstream']);
    expect(run.exitCode).toBe(127);
    const message = 'definitely-not-a-command-jobstream: command not found';
    expect(run.stderr).toContain(message);
    expect(await getJob(redis, job)).toMatchObject({
      status: 'failed',
      exitCode: 127,
      errorMessage: message,
    });
    expect((await lines(job)).map((l) => [l.stream, l.line])).toEqual([['stderr', `jobrun: ${message}`]]);
  }, 30_000);

  it('--help prints the usage and every option and exits 0; an unknown option exits 2 with the usage', async () => {
    const help = await jobrun(id('help'), ['true'], { flags: ['--help'] });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run jobrun -- /);
    for (const option of ['--title', '--owner', '--id', '--kill-grace', '--pty', 'JOBRUN_SPOOL_MAX_BYTES'])
      expect(help.stdout).toContain(option);
    expect(await getJob(redis, id('help'))).toBeNull(); // nothing was run
    const wrong = await jobrun(id('wrong'), ['true'], { flags: ['--colour'] });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain("Unknown option '--colour'");
    expect(wrong.stderr).toContain('usage: npm run jobrun');
  }, 30_000);

  it("prints the job's dashboard address when JOBSTREAM_DASHBOARD_URL is set", async () => {
    const job = id('address');
    const run = await jobrun(job, ['true'], {
      env: { JOBSTREAM_DASHBOARD_URL: 'https://jobs.example.com/' },
    });
    expect(run.stderr).toContain(`https://jobs.example.com/jobs/${job}`);
  }, 30_000);
});
