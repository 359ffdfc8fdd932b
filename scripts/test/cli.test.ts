/**
 * Every program people run from the README answers `--help` with its usage (exit 0, nothing
 * started) and an unknown option with the problem and the usage (exit 2), never a stack trace.
 */
import { spawn } from 'node:child_process';
import { expect, it } from '@jest/globals';
import { ROOT } from '../lib/build.js';

const PROGRAMS = [
  'jobrun',
  'token',
  'start',
  'loadtest',
  'bench',
  'bench-browser',
  'bench-scale-out',
  'screenshots',
  'library',
  'topology',
];

function run(
  program: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${program}.ts`, ...args], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' }, // nothing may be reached for these
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

it.each(PROGRAMS)(
  '%s --help prints its usage and exits 0; an unknown option exits 2',
  async (program) => {
    const [help, wrong] = await Promise.all([run(program, ['--help']), run(program, ['--no-such-option'])]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage: /);
    expect(help.stdout.split('\n').length).toBeGreaterThan(3); // and says what it does
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("Unknown option '--no-such-option'");
    expect(wrong.stderr).toContain('usage: ');
    expect(wrong.stderr).not.toMatch(/\n\s+at /); // no stack trace
  },
  30_000,
);
