/** `npm run jobrun` as tests start it: node + tsx on the script itself, so signals reach jobrun. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { ROOT } from './build.js';

export function spawnJobrun(
  id: string,
  command: readonly string[],
  {
    env,
    flags = [],
    ...options
  }: { env: NodeJS.ProcessEnv; flags?: readonly string[] } & Omit<SpawnOptions, 'env'>,
): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/jobrun.ts', '--id', id, '--owner', 'alice', ...flags, '--', ...command],
    { cwd: ROOT, ...options, env: { ...process.env, ...env } },
  );
}

export interface JobrunRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface JobrunRunOptions {
  /** REDIS_URL or REDIS_CLUSTER_NODES, and anything else jobrun reads. */
  env: NodeJS.ProcessEnv;
  flags?: string[];
  /** Called with all of jobrun's stdout so far, each time more arrives. */
  onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs jobrun to its end, collecting what it printed (its stdout is the command's). */
export function runJobrun(
  id: string,
  command: readonly string[],
  { env, flags = [], onStdout }: JobrunRunOptions,
): Promise<JobrunRun> {
  const child = spawnJobrun(id, command, { env, flags, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, (signal) => child.kill(signal));
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (exitCode) => resolve({ exitCode, stdout, stderr })));
}

/**
 * `runJobrun` for one test file: against the Redis `redisUrl()` names (read when each run
 * starts), unless a run's `env` names another.
 */
export function jobrunOn(redisUrl: () => string) {
  return (
    id: string,
    command: readonly string[],
    { env = {}, ...options }: Omit<JobrunRunOptions, 'env'> & { env?: NodeJS.ProcessEnv } = {},
  ): Promise<JobrunRun> => runJobrun(id, command, { env: { REDIS_URL: redisUrl(), ...env }, ...options });
}
