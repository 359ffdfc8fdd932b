/**
 * Signing in and staying signed in with the `jobstream` CLI against a real gateway (docs/cli.md
 * "Signing in", "Exit codes"): `login` keeps a checked token readable by the user alone, `logs -f` renews a
 * session about to expire and keeps the renewed token, and every failure says what to do with an
 * exit code of its own.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../../shared/redis/functions.js';
import { startStack, type Stack } from '../../../scripts/lib/stack.js';
import { eventually } from '../../../gateway/test/harness.js';
import { freshConfigDir, runCli, type CliOptions } from './cli-process.js';

let s: Stack;
let redis: Redis;
beforeAll(async () => {
  s = await startStack();
  redis = s.redis!.client() as Redis;
});
afterAll(() => s.stop());

const cli = (args: readonly string[], options: CliOptions = {}) =>
  runCli(args, {
    ...options,
    env: { JOBSTREAM_URL: s.url, JOBSTREAM_TOKEN: s.token('alice'), ...options.env },
  });

/** A running job of alice's holding `line 1`. */
async function runningJob(): Promise<string> {
  const id = `${s.namespace()}-job`;
  await createJob(redis, { id, owner: 'alice', title: `job ${id}` });
  await setJobStatus(redis, id, 'running');
  await appendLines(redis, id, [{ stream: 'stdout', line: 'line 1' }]);
  return id;
}

it('login checks the token and keeps it readable by the user alone; later commands use it', async () => {
  const config = freshConfigDir();
  const refused = await runCli(['login', s.url, '--token', 'not-a-token'], {
    env: { JOBSTREAM_CONFIG_DIR: config },
  });
  expect(refused.exitCode).toBe(77);
  expect(refused.stderr).toContain('refused the token');
  const piped = await runCli(['login', s.url], {
    env: { JOBSTREAM_CONFIG_DIR: config },
    stdin: `${s.token('bob')}\n`,
  });
  expect(piped.exitCode).toBe(0);
  expect(piped.stderr).toContain('as bob (user)');
  const file = join(config, 'credentials.json');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ url: s.url });
  const listed = await runCli(['ls', '--json'], { env: { JOBSTREAM_CONFIG_DIR: config } });
  expect(listed.exitCode).toBe(0);
  expect((await runCli(['logout'], { env: { JOBSTREAM_CONFIG_DIR: config } })).exitCode).toBe(0);
  expect((await runCli(['ls'], { env: { JOBSTREAM_CONFIG_DIR: config } })).exitCode).toBe(77);
  // A folder that cannot be made (a file stands where it would be) says so and what to do.
  writeFileSync(join(config, 'a-file'), '');
  const blocked = join(config, 'a-file', 'sub');
  const unwritable = await runCli(['login', s.url, '--token', s.token('bob')], {
    env: { JOBSTREAM_CONFIG_DIR: blocked },
  });
  expect(unwritable.exitCode).toBe(1);
  expect(unwritable.stderr).toContain(
    `jobstream: cannot keep the token in ${join(blocked, 'credentials.json')} (`,
  );
  expect(unwritable.stderr).toContain('set JOBSTREAM_CONFIG_DIR to a folder you can write');
}, 30_000);

it('-f renews a session about to expire, and keeps the renewed token where login put it', async () => {
  const config = freshConfigDir();
  const asLoggedIn = { env: { JOBSTREAM_CONFIG_DIR: config } };
  const short = s.token('alice', 'user', 62); // renewed a minute before it expires: 2 s from now
  expect((await runCli(['login', s.url, '--token', short], asLoggedIn)).exitCode).toBe(0);
  const saved = () =>
    (JSON.parse(readFileSync(join(config, 'credentials.json'), 'utf8')) as { token: string }).token;
  const id = await runningJob();
  let following!: () => void;
  const followingNow = new Promise<void>((resolve) => (following = resolve));
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const run = runCli(['logs', '-f', id], {
    ...asLoggedIn,
    onStdout: (text, kill) => {
      stop = kill;
      if (text.includes('line 1\n')) following();
    },
  });
  try {
    await followingNow;
    await eventually(() => saved() !== short, 15_000, 'the renewed token to be saved');
    const claims = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; exp: number };
    expect(claims(saved()).sub).toBe('alice');
    expect(claims(saved()).exp).toBeGreaterThan(claims(short).exp);
    await appendLines(redis, id, [
      { stream: 'stdout', line: 'line 2' },
      { stream: 'stdout', line: 'line 3' },
    ]);
    await setJobStatus(redis, id, 'success');
    expect(await run).toMatchObject({ exitCode: 0, stdout: 'line 1\nline 2\nline 3\n' });
  } finally {
    stop('SIGKILL'); // a failed check leaves no follower running (it would follow for ever)
  }
}, 30_000);

it('says what to do, with its own exit code, when it cannot', async () => {
  const notSignedIn = await runCli(['ls']);
  expect(notSignedIn).toMatchObject({ exitCode: 77 });
  expect(notSignedIn.stderr).toContain('jobstream login');
  const missing = await cli(['logs', '-f', 'no-such-job']);
  expect(missing.exitCode).toBe(66);
  expect(missing.stderr).toContain('job no-such-job not found');
  const unreachable = await cli(['ls'], { env: { JOBSTREAM_URL: 'http://127.0.0.1:1' } });
  expect(unreachable.exitCode).toBe(69);
  expect(unreachable.stderr).toContain('cannot reach the gateway at http://127.0.0.1:1');
  // A gateway not reachable yet: `run` says so at once, not after its 30 s of creation retries.
  const waiting = await cli(['run', '--', 'true'], {
    env: { JOBSTREAM_URL: 'http://127.0.0.1:1' },
    onStderr: (text, kill) => text.includes('\n') && kill('SIGKILL'),
  });
  expect(waiting.stderr).toBe(
    'jobstream: cannot create the job at http://127.0.0.1:1 yet (connect ECONNREFUSED 127.0.0.1:1); trying for 30 s before the command runs\n',
  );
  // A proxy sending http to https: said, never followed (the token would go where it was not given).
  const redirecting = createServer((_req, res) =>
    res.writeHead(301, { location: 'https://jobs.example.com/api/jobs?limit=20' }).end('<html>moved</html>'),
  );
  await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
  const redirectUrl = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`;
  const redirected = await cli(['ls'], { env: { JOBSTREAM_URL: redirectUrl } });
  redirecting.close();
  expect(redirected.exitCode).toBe(69);
  expect(redirected.stderr).toContain(`the gateway at ${redirectUrl} redirects to https://jobs.example.com:`);
  const usage = await cli(['logs']);
  expect(usage.exitCode).toBe(64);
  expect((await cli(['logs', 'x', '--tail', 'ten'])).stderr).toContain('--tail must be a whole number');
  expect((await cli(['frobnicate'])).exitCode).toBe(64);
  const noJobs = await cli(['ls', '--limit', '0']); // told here, not by a 400 from the gateway
  expect(noJobs).toMatchObject({
    exitCode: 64,
    stderr: expect.stringContaining('--limit must be a whole number ≥ 1'),
  });
}, 30_000);
