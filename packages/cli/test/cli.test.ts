/**
 * The `jobstream` CLI against a real gateway and Redis (docs/cli.md): every command, the exit
 * codes that tell a job's outcome, and `logs -f` and `watch` through a gateway restart compared
 * line by line with what Redis holds. Signing in and the CLI's own failures: session.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  appendLines,
  createJob,
  getJob,
  setJobStatus,
  type LineToAppend,
} from '../../../shared/redis/functions.js';
import { storedLines } from '../../../shared/testing/output.js';
import { startStack, type Stack } from '../../../scripts/lib/stack.js';
import { runCli, type CliOptions } from './cli-process.js';

let s: Stack;
let redis: Redis;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  s = await startStack();
  redis = s.redis!.client() as Redis;
  env = { JOBSTREAM_URL: s.url, JOBSTREAM_TOKEN: s.token('alice') };
});
afterAll(() => s.stop());

const cli = (args: readonly string[], options: CliOptions = {}) =>
  runCli(args, { ...options, env: { ...env, ...options.env } });

const lines = (from: number, to: number, text = (i: number) => `line ${i}`): LineToAppend[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ stream: 'stdout', line: text(from + i) }));

/** A job of alice's holding `count` lines, running (or ended as `status` says). */
async function job(
  count: number,
  status: 'running' | 'success' | 'failed' | 'cancelled' = 'success',
  fields: Record<string, string | number> = {},
): Promise<string> {
  const id = `${s.namespace()}-job`;
  await createJob(redis, { id, owner: 'alice', title: `job ${id}` });
  await setJobStatus(redis, id, 'running');
  for (let from = 1; from <= count; from += 5000)
    await appendLines(redis, id, lines(from, Math.min(count, from + 4999)));
  if (status !== 'running') await setJobStatus(redis, id, status, fields);
  return id;
}

/** Writes lines `from`–`count` to a running job in small batches, then ends it as `status`. */
async function writeSlowly(
  id: string,
  from: number,
  count: number,
  status: 'success' | 'failed',
  batch = 50,
): Promise<void> {
  for (; from <= count; from += batch) {
    await appendLines(
      redis,
      id,
      lines(from, Math.min(count, from + batch - 1), (i) => `${id} ${i}`),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await setJobStatus(redis, id, status, status === 'failed' ? { exitCode: 1 } : { exitCode: 0 });
}

const stored = async (id: string) => (await storedLines(redis, id)).map((l) => l.line);
const outputLines = (stdout: string) => stdout.split('\n').slice(0, -1);

describe('logs', () => {
  it('prints what the job holds, page after page, and --tail and --since pick the part', async () => {
    const id = await job(23_456, 'running');
    await appendLines(redis, id, [{ stream: 'stderr', line: 'said on stderr' }]);
    await setJobStatus(redis, id, 'success', { exitCode: 0 });
    const all = await cli(['logs', id]);
    expect(all.exitCode).toBe(0);
    expect(outputLines(all.stdout)).toEqual(await stored(id));
    expect(outputLines(all.stdout)).toHaveLength(23_457);
    const tail = await cli(['logs', id, '--tail', '12000']);
    expect(outputLines(tail.stdout)).toEqual((await stored(id)).slice(-12_000));
    const since = await cli(['logs', id, '--since', '23450']);
    expect(outputLines(since.stdout)).toEqual([
      ...lines(23_451, 23_456).map((l) => l.line),
      'said on stderr',
    ]);
  }, 60_000);

  it('-f follows a job through a gateway restart: every line once, in order, then exits 0', async () => {
    const id = await job(0, 'running');
    let restarted: Promise<void> | null = null;
    let writing: Promise<void> | null = null;
    await appendLines(
      redis,
      id,
      lines(1, 10, (i) => `${id} ${i}`),
    );
    const run = await cli(['logs', '-f', id], {
      onStdout: (out) => {
        // Live from line 11 on: the restart comes while lines are being written.
        if (writing === null && out.includes(`${id} 10\n`))
          writing = writeSlowly(id, 11, 4000, 'success', 20);
        if (restarted === null && out.includes(`${id} 1500\n`))
          restarted = s.restartGateway(() => new Promise((resolve) => setTimeout(resolve, 300)));
      },
    });
    await writing;
    await restarted;
    expect(restarted).not.toBeNull();
    expect(run.stderr).toContain('reconnect');
    expect(outputLines(run.stdout)).toEqual(await stored(id));
    expect(outputLines(run.stdout)).toHaveLength(4000);
    expect(run.exitCode).toBe(0);
  }, 60_000);

  it.each([
    ['success', {}, 0],
    ['failed', { exitCode: 1, errorMessage: 'exit code 1' }, 1],
    ['cancelled', {}, 130],
    ['failed', { errorMessage: 'runner lost: job failed' }, 2],
  ] as const)(
    '-f exits with the outcome: %s %j → %i',
    async (status, fields, code) => {
      const id = await job(3, status, fields);
      const run = await cli(['logs', '-f', id]);
      expect(outputLines(run.stdout)).toEqual(['line 1', 'line 2', 'line 3']);
      expect(run.exitCode).toBe(code);
    },
    30_000,
  );

  it('--json prints one frame per line; colours are kept only where asked', async () => {
    const id = await job(0, 'running');
    await appendLines(redis, id, [{ stream: 'stdout', line: '\x1b[31mred\x1b[0m plain' }]);
    await setJobStatus(redis, id, 'success', { exitCode: 0 });
    const json = await cli(['logs', '-f', id, '--json']);
    const frames = outputLines(json.stdout).map((l) => JSON.parse(l) as { type: string });
    expect(frames.map((f) => f.type)).toEqual(expect.arrayContaining(['status', 'output', 'done']));
    expect(frames.find((f) => f.type === 'output')).toMatchObject({
      jobId: id,
      lines: [{ seq: 1, stream: 'stdout', line: '\x1b[31mred\x1b[0m plain' }],
    });
    expect((await cli(['logs', id])).stdout).toBe('red plain\n'); // not a terminal: no colour
    expect((await cli(['logs', id, '--color'])).stdout).toBe('\x1b[31mred\x1b[0m plain\n');
    expect((await cli(['logs', id, '--no-color'])).stdout).toBe('red plain\n');
  }, 30_000);
});

describe('watch', () => {
  it('interleaves several jobs over one socket, through a gateway restart, each line behind its id', async () => {
    const a = await job(0, 'running');
    const b = await job(0, 'running');
    await appendLines(redis, a, [{ stream: 'stdout', line: 'first' }]);
    let restarted: Promise<void> | null = null;
    let writing: Promise<unknown> | null = null;
    const run = await cli(['watch', a, b, '--since', '0'], {
      onStdout: (out) => {
        if (writing === null && out.includes(`${a} | first`))
          writing = Promise.all([
            writeSlowly(a, 2, 2000, 'success', 20),
            writeSlowly(b, 1, 1500, 'failed', 15),
          ]);
        if (restarted === null && out.includes(`${a} 1000\n`))
          restarted = s.restartGateway(() => new Promise((resolve) => setTimeout(resolve, 300)));
      },
    });
    await writing;
    await restarted;
    expect(restarted).not.toBeNull();
    expect(run.stderr).toContain('reconnect');
    const of = (id: string) =>
      outputLines(run.stdout)
        .filter((l) => l.startsWith(`${id} | `) && !l.includes('ended: '))
        .map((l) => l.slice(`${id} | `.length));
    expect(of(a)).toEqual(await stored(a));
    expect(of(b)).toEqual(await stored(b));
    expect(run.stdout).toContain(`${b} | ended: failed (exit code 1)`);
    // b failed, a succeeded: the first job named that did not succeed gives the code.
    expect(run.exitCode).toBe(1);
  }, 60_000);

  it('--running follows the jobs that run, and each one that starts later', async () => {
    const before = await job(2, 'running');
    const later = `${s.namespace()}-later`;
    let started = false;
    const run = await cli(['watch', '--running', '--since', '0'], {
      onStdout: (out, kill) => {
        if (!started && out.includes(`${before} | line 2`)) {
          started = true;
          void (async () => {
            await createJob(redis, { id: later, owner: 'alice', title: 'later' });
            await setJobStatus(redis, later, 'running');
            await appendLines(
              redis,
              later,
              lines(1, 3, (i) => `later ${i}`),
            );
          })();
        }
        if (out.includes(`${later} | later 3`)) kill('SIGINT');
      },
    });
    expect(run.stdout).toContain(`${before} | line 1`);
    expect(run.stdout).toContain(`${later} | later 1`);
  }, 30_000);
});

describe('the other commands', () => {
  it('ls lists jobs newest first, filtered by status, as a table or JSON', async () => {
    const ok = await job(1, 'success');
    const bad = await job(1, 'failed', { exitCode: 4 });
    const json = await cli(['ls', '--json', '--limit', '200']);
    const ids = outputLines(json.stdout).map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids.indexOf(bad)).toBeLessThan(ids.indexOf(ok));
    const failed = await cli(['ls', '--status', 'failed', '--limit', '200']);
    expect(failed.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+STARTED\s+DURATION\s+EXIT\s+OWNER\s+TITLE/);
    expect(failed.stdout).toContain(bad);
    expect(failed.stdout).not.toContain(ok);
  }, 30_000);

  it('search prints matching lines with their numbers; 1 when none match', async () => {
    const id = await job(120);
    const found = await cli(['search', id, 'LINE 11']);
    expect(outputLines(found.stdout)).toEqual([
      ' 11: line 11',
      '110: line 110',
      '111: line 111',
      '112: line 112',
      '113: line 113',
      '114: line 114',
      '115: line 115',
      '116: line 116',
      '117: line 117',
      '118: line 118',
      '119: line 119',
    ]);
    expect(found.exitCode).toBe(0);
    expect((await cli(['search', id, 'nowhere'])).exitCode).toBe(1);
  }, 30_000);

  it('cancel asks a running job to stop; a finished one is exit 1 with why', async () => {
    const running = await job(1, 'running');
    const asked = await cli(['cancel', running]);
    expect(asked.exitCode).toBe(0);
    expect((await getJob(redis, running))?.cancelRequestedAt).toEqual(expect.any(Number));
    const done = await cli(['cancel', await job(1, 'success')]);
    expect(done.exitCode).toBe(1);
    expect(done.stderr).toMatch(/jobstream: job \S+ has already ended/);
  }, 30_000);

  it('run runs a command as a job through the gateway and passes its exit code through', async () => {
    const run = await cli([
      'run',
      '--title',
      'from the cli',
      '--',
      'bash',
      '-c',
      'seq 1 3000; echo oops >&2; exit 3',
    ]);
    expect(run.exitCode).toBe(3);
    const id = /job (\S+):/.exec(run.stderr)?.[1];
    expect(id).toBeDefined();
    expect(await stored(id!)).toEqual([...Array.from({ length: 3000 }, (_, i) => String(i + 1)), 'oops']);
    expect(await getJob(redis, id!)).toMatchObject({
      owner: 'alice',
      title: 'from the cli',
      status: 'failed',
      exitCode: 3,
    });
  }, 60_000);
});
