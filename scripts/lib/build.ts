/** Builds the dashboard into client/dist when the build is missing or older than its sources. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'client', 'dist');

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function dashboardIsStale(): boolean {
  const index = join(DIST, 'index.html');
  if (!existsSync(index)) return true;
  const sources = ['client/src', 'client/index.html', 'client/vite.config.ts', 'shared'].map((p) =>
    newestMtime(join(ROOT, p)),
  );
  return statSync(index).mtimeMs < Math.max(...sources);
}

/** Returns the dist folder; builds first when stale. `onBuild` is told before a build starts. */
export function buildDashboardIfStale(onBuild: () => void = () => undefined): string {
  if (dashboardIsStale()) {
    onBuild();
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--config',
        'client/vite.config.ts',
        '--logLevel',
        'warn',
      ],
      // Always a production bundle: jest sets NODE_ENV=test, which would make React's dev build.
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } },
    );
  }
  return DIST;
}
