import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { OutputLine } from '../../shared/protocol.js';
import { getJob, requestCancel } from '../../shared/redis/functions.js';
import { storedLines } from '../../shared/testing/output.js';
import { PrivateRedis } from '../../shared/redis/private-server.js';

let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
});
afterAll(() => server.stop());

interface Run {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run jobrun` in-process-free: node + tsx, so that signals reach jobrun itself. */
function jobrun(
  id: string,
  command: string[],
  onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void,
  options: string[] = [],
): Promise<Run> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/jobrun.ts', '--id', id, '--owner', 'alice', ...options, '--', ...command],
    {
      env: { ...process.env, REDIS_URL: server.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, (signal) => child.kill(signal));
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (exitCode) => resolve({ exitCode, stdout, stderr })));
}

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
    const run = await jobrun(job, ['bash', '-c', 'echo started; exec sleep 30'], (out, kill) => {
      if (!sent && out.includes('started')) {
        sent = true;
        kill('SIGINT');
      }
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
      (out) => {
        if (!asked && out.includes('started')) {
          asked = true;
          void requestCancel(redis, job, 'bob');
        }
      },
      ['--kill-grace', '1'],
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
    const run = await jobrun(id('badgrace'), ['true'], undefined, ['--kill-grace', 'soon']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--kill-grace');
  }, 30_000);

  it('fails the job when the command cannot start', async () => {
    const job = id('enoent');
    const run = await jobrun(job, ['definitely-not-a-command-jobstream']);
    expect(run.exitCode).toBe(127);
    expect(await getJob(redis, job)).toMatchObject({ status: 'failed', exitCode: 127 });
  }, 30_000);
});
