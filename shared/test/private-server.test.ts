/**
 * PrivateRedis, the redis-server every test and bench starts: stopping it is awaited to the end
 * even when nothing else keeps the process alive (its process is unref'd so that it never keeps a
 * caller alive; before, a script whose last step was `await stop()` ended inside that await,
 * silently, with status 0, and `npm run bench` printed nothing).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from '@jest/globals';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

it('stop() as a script’s last step is awaited to its end', async () => {
  for (let attempt = 0; attempt < 3; attempt++) {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'shared/test/fixtures/stop-as-last-step.ts'],
      { cwd: ROOT, timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('stopped');
  }
}, 60_000);
