/**
 * One source for each fact: the function library (Lua) and the TypeScript side agree on the job
 * statuses, the fields a runner may set, the fields of the job object and the job-id pattern.
 * (The line limit and the feed channel are filled into the Lua from TypeScript at load time.)
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  JOB_ID_PATTERN,
  JOB_STATUSES,
  jobFromHash,
  METADATA_INTEGER_FIELDS,
  METADATA_TEXT_FIELDS,
  TERMINAL_STATUSES,
} from '../job.js';
import { jobKey } from '../keys.js';
import {
  DEFAULT_LIBRARY_CONFIG,
  LIBRARY_VERSION,
  librarySource,
  loadedLibrary,
  loadLibrary,
  LUA_TEMPLATE,
} from '../redis/library.js';
import { PrivateRedis } from '../../scripts/lib/private-redis.js';

const lua = LUA_TEMPLATE;

/** The keys of a Lua table literal `local NAME = { a = true, b = true }`. */
function luaSet(name: string): string[] {
  const body = new RegExp(`local ${name} = \\{([^}]*)\\}`).exec(lua)?.[1];
  if (body === undefined) throw new Error(`no table ${name} in the Lua library`);
  return [...body.matchAll(/(\w+) = true/g)].map((m) => m[1]!).sort();
}

it('statuses and terminal statuses are the same on both sides', () => {
  expect(luaSet('STATUSES')).toEqual([...JOB_STATUSES].sort());
  expect(luaSet('TERMINAL')).toEqual([...TERMINAL_STATUSES].sort());
});

it('the fields a runner may set are the same on both sides', () => {
  expect(luaSet('TEXT_FIELDS')).toEqual([...METADATA_TEXT_FIELDS].sort());
  expect(luaSet('INTEGER_FIELDS')).toEqual([...METADATA_INTEGER_FIELDS].sort());
});

it('every field the library writes into the job object is one the TypeScript job model reads', () => {
  const body = /local JOB_FIELDS = \{([\s\S]*?)\n\}/.exec(lua)?.[1] ?? '';
  const fields = [...body.matchAll(/\{ '(\w+)', '(?:text|number)'(?:, '(\w+)')? \}/g)];
  expect(fields.length).toBeGreaterThan(10);
  const hash = Object.fromEntries(fields.map(([, field]) => [field!, field === 'status' ? 'running' : '7']));
  const job = jobFromHash(hash)!;
  for (const [, field, wireName] of fields) expect(job).toHaveProperty(wireName ?? field!);
});

it('no placeholder is left unfilled, and the TypeScript limits are what the Lua gets', () => {
  const source = librarySource(DEFAULT_LIBRARY_CONFIG);
  expect(source).toContain('local MAX_LINE_BYTES = 16384');
  expect(source).toContain("local JOBS_FEED = 'jobs:feed'");
});

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = server.client();
  await loadLibrary(redis, DEFAULT_LIBRARY_CONFIG);
});
afterAll(() => server.stop());

it('the library accepts exactly the job ids JOB_ID_PATTERN accepts', async () => {
  const candidates = ['a'.repeat(128), 'a'.repeat(129), ''];
  for (let code = 32; code < 127; code++) candidates.push(`id${String.fromCharCode(code)}x`);
  for (const id of candidates) {
    const accepted = await redis.fcall('jobstream_create', 1, jobKey(id), 'alice', 't').then(
      () => true,
      () => false,
    );
    expect([id, accepted]).toEqual([id, JOB_ID_PATTERN.test(id)]);
  }
});

it('`npm run library` prints a library that Redis loads as it is (for runners in other languages)', async () => {
  const printed = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/library.ts'], {
    encoding: 'utf8',
  });
  expect(printed).toBe(librarySource(DEFAULT_LIBRARY_CONFIG));
  await redis.call('FUNCTION', 'DELETE', 'jobstream');
  expect(await redis.call('FUNCTION', 'LOAD', printed)).toBe('jobstream');
  expect(await loadedLibrary(redis)).toMatchObject({ version: LIBRARY_VERSION, eventsPublish: 'publish' });
}, 30_000);
