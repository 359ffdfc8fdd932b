/**
 * The packages as a user gets them: `npm pack` of @jobstream/client and @jobstream/cli, installed
 * into an empty folder from the tarballs alone (their dependencies from the registry), then the
 * installed `jobstream` and a Node program on the installed client core (with `ws`) follow a real
 * job to its end, and a TypeScript program type-checks against the shipped declarations.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { ROOT } from '../../../scripts/lib/build.js';
import { startStack, type Stack } from '../../../scripts/lib/stack.js';
import { appendLines, createJob, setJobStatus } from '../../../shared/redis/functions.js';
import { runCli } from './cli-process.js';

const run = promisify(execFile);
const npm = (args: string[], cwd: string) => run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024 });

let s: Stack;
let redis: Redis;
let folder: string;
beforeAll(async () => {
  s = await startStack();
  redis = s.redis!.client() as Redis;
  folder = mkdtempSync(join(tmpdir(), 'jobstream-pack-'));
  const tarballs = join(folder, 'tarballs');
  mkdirSync(tarballs);
  await npm(['run', 'build', '-w', '@jobstream/client', '-w', '@jobstream/cli'], ROOT);
  await npm(
    ['pack', '-w', '@jobstream/client', '-w', '@jobstream/cli', '--pack-destination', tarballs],
    ROOT,
  );
  const app = join(folder, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const packed = readdirSync(tarballs).map((name) => join(tarballs, name));
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', ...packed], app);
}, 300_000);
afterAll(async () => {
  await s.stop();
  rmSync(folder, { recursive: true, force: true });
});

async function finishedJob(): Promise<string> {
  const id = `${s.namespace()}-packed`;
  await createJob(redis, { id, owner: 'alice', title: 'packed' });
  await setJobStatus(redis, id, 'running');
  await appendLines(redis, id, [
    { stream: 'stdout', line: 'one' },
    { stream: 'stderr', line: 'two' },
  ]);
  await setJobStatus(redis, id, 'failed', { exitCode: 1 });
  return id;
}

it('the tarballs hold what runs and nothing of the repository besides', async () => {
  const { stdout } = await run('tar', [
    'tzf',
    readdirSync(join(folder, 'tarballs'))
      .map((n) => join(folder, 'tarballs', n))
      .find((n) => n.includes('cli'))!,
  ]);
  expect(stdout).toContain('package/bin/jobstream.js');
  expect(stdout).toContain('package/dist/packages/cli/src/main.js');
  expect(stdout).not.toMatch(/\.test\.|\/src\/main\.ts|gateway\//);
});

it('the installed jobstream lists and follows jobs, exiting with the outcome', async () => {
  const id = await finishedJob();
  const env = { JOBSTREAM_URL: s.url, JOBSTREAM_TOKEN: s.token('alice') };
  const bin = join(folder, 'app', 'node_modules', '@jobstream', 'cli', 'bin', 'jobstream.js');
  const listed = await runCli(['ls', '--json'], { env, bin, cwd: join(folder, 'app') });
  expect(listed.exitCode).toBe(0);
  expect(listed.stdout).toContain(`"id":"${id}"`);
  const followed = await runCli(['logs', '-f', id], { env, bin, cwd: join(folder, 'app') });
  expect(followed).toMatchObject({ exitCode: 1, stdout: 'one\ntwo\n' });
}, 60_000);

it('a Node program follows a job with the installed client core and ws', async () => {
  const id = await finishedJob();
  const program = join(folder, 'app', 'follow.mjs');
  writeFileSync(
    program,
    `import WebSocket from 'ws';
import { JobSocket, gatewaySocketUrl } from '@jobstream/client';
const [url, token, jobId] = process.argv.slice(2);
const socket = new JobSocket({ url: gatewaySocketUrl(url), getToken: () => token, createSocket: (u, p) => new WebSocket(u, p) });
socket.connect();
socket.hold(jobId, { since: 0 });
socket.onJobEvent(jobId, (event) => {
  if (event.type === 'output') for (const line of event.lines) console.log(line.stream, line.line);
  if (event.type === 'done') { console.log('done', event.status); socket.close(); }
});
`,
  );
  const { stdout } = await run(process.execPath, [program, s.url, s.token('alice'), id], {
    cwd: join(folder, 'app'),
  });
  expect(stdout).toBe('stdout one\nstderr two\ndone failed\n');
}, 60_000);

it('its declarations type-check a TypeScript program', async () => {
  const app = join(folder, 'app');
  writeFileSync(
    join(app, 'check.ts'),
    `import { JobSocket, type JobEvent } from '@jobstream/client';
const socket: JobSocket = new JobSocket({ url: 'ws://x/ws', getToken: () => null });
socket.onJobEvent('j', (event: JobEvent) => { if (event.type === 'output') event.lines.map((l) => l.seq + 1); });
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'nodenext', strict: true, noEmit: true, lib: ['ES2023', 'DOM'], types: [] },
      files: ['check.ts'],
    }),
  );
  await expect(
    run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app]),
  ).resolves.toBeDefined();
}, 60_000);
