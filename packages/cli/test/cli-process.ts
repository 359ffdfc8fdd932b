/** `jobstream` as a user runs it: its own process (the bin, so the source through tsx), collected. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/jobstream.js', import.meta.url));

export interface CliRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  /** Called with all of stdout so far, each time more arrives. */
  onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void;
  /** The same for stderr. */
  onStderr?: (text: string, kill: (signal: NodeJS.Signals) => void) => void;
  /** The program instead of this repository's bin (an installed package's). */
  bin?: string;
  cwd?: string;
}

/** A config folder of its own, so no test reads another's (or the user's) credentials. */
export const freshConfigDir = (): string => mkdtempSync(join(tmpdir(), 'jobstream-cli-'));

export function runCli(
  args: readonly string[],
  { env = {}, stdin, onStdout, onStderr, bin = BIN, cwd }: CliOptions = {},
): Promise<CliRun> {
  const inherited = { ...process.env };
  // What the user's shell might set must not change what a test sees.
  for (const name of ['NO_COLOR', 'FORCE_COLOR', 'JOBSTREAM_URL', 'JOBSTREAM_TOKEN', 'JOBSTREAM_CONFIG_DIR'])
    delete inherited[name];
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...inherited, JOBSTREAM_CONFIG_DIR: freshConfigDir(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  child.stdin.end(stdin ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, (signal) => child.kill(signal));
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr?.(stderr, (signal) => child.kill(signal));
  });
  return new Promise((resolve) => child.once('close', (exitCode) => resolve({ exitCode, stdout, stderr })));
}
