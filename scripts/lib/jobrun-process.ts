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
