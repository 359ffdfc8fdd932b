/**
 * docs/operations.md "A Redis user for direct runners": the ACL it shows lets JobPublisher (and
 * so `npm run jobrun`) run a job's whole lifecycle, and refuses what a runner never needs —
 * reading or deleting keys, configuration, the function library itself.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../redis/library.js';
import { getJob, requestCancel } from '../redis/functions.js';
import { JobPublisher } from '../runner/publisher.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';

const guide = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
/** The ACL SETUSER line of the guide, with the password the test chooses. */
const aclLine = /^ACL SETUSER jobstream-runner .*$/m.exec(guide)?.[0];

let server: PrivateRedis;
let admin: Redis;
let runner: Redis;
beforeAll(async () => {
  server = await PrivateRedis.start();
  admin = server.client();
  await loadLibrary(admin, DEFAULT_LIBRARY_CONFIG); // the gateway's job, never the runner's
  expect(aclLine).toBeDefined();
  await admin.call(...(aclLine!.replace('<password>', 'runner-secret').split(' ') as [string, ...string[]]));
  runner = new Redis({
    port: server.port,
    username: 'jobstream-runner',
    password: 'runner-secret',
    lazyConnect: true,
  });
  await runner.connect();
});
afterAll(async () => {
  runner.disconnect();
  await server.stop();
});

it('runs a whole job as the runner user: create, lines, progress, heartbeat, cancel heard, finish', async () => {
  const id = `${server.namespace()}-acl`;
  const publisher = await JobPublisher.create(
    runner,
    { id, owner: 'alice', title: 'under an ACL' },
    { heartbeatMs: 100 },
  );
  const cancelled = new Promise((resolve) => publisher.once('cancel', resolve));
  await publisher.start();
  publisher.stdout('one');
  publisher.progress('stdout', 'half way');
  publisher.stderr('two');
  await publisher.flush();
  await requestCancel(admin, id, 'alice');
  await cancelled;
  await publisher.cancel('stopped on request');
  await publisher.close();
  expect(await getJob(admin, id)).toMatchObject({ status: 'cancelled', lastSeq: 2 });
});

it('refuses what a runner never needs', async () => {
  for (const command of [
    ['KEYS', '*'],
    ['FLUSHALL'],
    ['CONFIG', 'GET', 'maxmemory'],
    ['GET', 'job:{x}'],
    ['DEL', 'jobs:index'],
    ['LRANGE', 'job:{x}:output', '0', '-1'],
    ['FUNCTION', 'DELETE', 'jobstream'],
    ['EVAL', 'return 1', '0'],
    ['ACL', 'LIST'],
  ])
    await expect(runner.call(command[0]!, ...command.slice(1))).rejects.toThrow(/NOPERM|no permissions/i);
});
