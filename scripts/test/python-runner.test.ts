/**
 * The Python runner (runners/python, standard library only) against a real gateway: its own
 * unittest suite, and `python3 -m jobstream_runner run` around real commands — every line once
 * and in order, the exit code passed through, a cancel that stops the command.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { getJob, requestCancel } from '../../shared/redis/functions.js';
import { storedLines } from '../../shared/testing/output.js';
import { ROOT } from '../lib/build.js';
import { startStack, type Stack } from '../lib/stack.js';

const RUNNER_DIR = join(ROOT, 'runners', 'python');
let s: Stack;
let redis: Redis;
beforeAll(async () => {
  s = await startStack();
  redis = s.redis!.client();
});
afterAll(() => s.stop());

const env = () => ({
  ...process.env,
  JOBSTREAM_URL: s.url,
  JOBSTREAM_TOKEN: s.token('ci', 'runner'),
  JOBSTREAM_READ_TOKEN: s.token('root', 'admin'),
  PYTHONDONTWRITEBYTECODE: '1',
});

/** Runs the CLI to its end; `onStdout` sees what the command printed so far. */
function runPython(
  args: string[],
  onStdout?: (text: string) => void,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('python3', ['-m', 'jobstream_runner', 'run', ...args], { cwd: RUNNER_DIR, env: env() });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    onStdout?.(out);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

it('passes its own unittest suite against the gateway', async () => {
  const { stderr } = await promisify(execFile)(
    'python3',
    ['-m', 'unittest', 'discover', '-s', 'tests', '-v'],
    {
      cwd: RUNNER_DIR,
      env: env(),
    },
  );
  expect(stderr).toMatch(/Ran 3 tests/);
  expect(stderr).toMatch(/\nOK\n/);
  expect(stderr).not.toMatch(/skipped/);
}, 60_000);

it('runs a command as a job: both streams stored once and in order, the exit code passed through', async () => {
  const id = `${s.namespace()}-py`;
  const { code } = await runPython([
    '--id',
    id,
    '--owner',
    'alice',
    '--',
    'bash',
    '-c',
    'seq 1 5000; echo oops >&2; exit 3',
  ]);
  expect(code).toBe(3);
  const stored = await storedLines(redis, id);
  expect(stored.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(
    Array.from({ length: 5000 }, (_, i) => String(i + 1)),
  );
  expect(stored.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['oops']);
  expect(await getJob(redis, id)).toMatchObject({ status: 'failed', exitCode: 3, lastSeq: 5001 });
}, 60_000);

it('a cancel asked for elsewhere stops the command and ends the job cancelled', async () => {
  const id = `${s.namespace()}-py-cancel`;
  let asked = false;
  const { code } = await runPython(
    ['--id', id, '--owner', 'alice', '--kill-grace', '2', '--', 'bash', '-c', 'echo started; sleep 60'],
    (out) => {
      if (!asked && out.includes('started')) {
        asked = true;
        void requestCancel(redis, id, 'alice');
      }
    },
  );
  expect(code).not.toBe(0);
  expect(await getJob(redis, id)).toMatchObject({ status: 'cancelled' });
}, 30_000);
