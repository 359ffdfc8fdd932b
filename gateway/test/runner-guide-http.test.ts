/**
 * docs/runners.md "Over HTTP" shows a runner's whole lifecycle with curl. This runs the block from
 * the document itself against a real gateway and checks the job it leaves.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { getJob } from '../../shared/redis/functions.js';
import { storedLines } from '../../shared/testing/output.js';
import { startHarness, token, type Harness } from './harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness();
  redis = h.redis.client();
});
afterAll(() => h.stop());

const guide = readFileSync(new URL('../../docs/runners.md', import.meta.url), 'utf8');
const block = /```bash\n([\s\S]*?)```/.exec(guide)?.[1];

it('the curl lifecycle in docs/runners.md makes the job it says', async () => {
  expect(block).toBeDefined();
  // Not execFileSync: the gateway answering curl runs in this process.
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', block!], {
    env: { ...process.env, GATEWAY: h.gateway.url, RUNNER_TOKEN: token('ci', 'runner') },
  });
  const id = stdout.trim();
  expect(await getJob(redis, id)).toMatchObject({
    owner: 'alice',
    title: 'Build web',
    branch: 'main',
    status: 'success',
    exitCode: 0,
    lastSeq: 4,
  });
  expect((await storedLines(redis, id)).map((l) => [l.seq, l.stream, l.line])).toEqual([
    [1, 'stdout', 'Cloning into repo…'],
    [2, 'stdout', 'Compiling 42 modules'],
    [3, 'stderr', 'warning: shallow clone'],
    [4, 'stdout', 'Done'],
  ]);
});
