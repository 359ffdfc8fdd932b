/**
 * npm start [-- --no-demo]: everything for a local look, from a fresh clone.
 *
 * Redis: REDIS_URL when it answers; else 127.0.0.1:6379 (JOBSTREAM_REDIS_PROBE overrides where to
 * look); else a private redis-server on a free port (no persistence, stopped on exit); else, on
 * Debian as root, apt-get installs redis-server first. Redis 7 or newer is required (functions).
 * Then: the dashboard is built if missing or stale, the gateway serves it on PORT (8080) with
 * JWT_SECRET (unless given, a random one made once and kept in .tmp/dev-secret, git-ignored, so
 * open tabs stay signed in across a restart) and the dev sign-in bound to loopback, demo runners
 * start, and the URL is printed with two signed-in links. Ctrl-C stops everything.
 *
 * The archive (JOBSTREAM_ARCHIVE_URL, unless given): .tmp/archive, git-ignored. Finished demo jobs
 * are archived within seconds and their lists let go of after 60 s
 * (JOBSTREAM_HOT_RETENTION_S), so the demo shows jobs read back from the archive like any other.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readCommandLine } from './lib/cli.js';
import { Redis } from 'ioredis';
import { DEMO_OWNERS, DEMO_USERS } from '../shared/demo.js';
import { connectTo, describeTarget, redisTargetFromEnv } from '../shared/redis/connect.js';
import { signToken } from '../shared/auth/tokens.js';
import { PrivateRedis } from './lib/private-redis.js';
import { configFromEnv } from '../gateway/src/ops/config.js';
import { createLogger } from '../gateway/src/ops/logger.js';
import { startGateway } from '../gateway/src/server.js';
import { buildDashboardIfStale } from './lib/build.js';
import { startDemoRunners } from './lib/demo-runners.js';

const say = (message: string): void => console.log(`jobstream: ${message}`);

/** Where `npm start` keeps its dev secret: under the git-ignored .tmp/, readable by its owner only. */
const DEV_SECRET_FILE = resolve(import.meta.dirname, '..', '.tmp', 'dev-secret');
/** Where `npm start` archives logs unless JOBSTREAM_ARCHIVE_URL says otherwise (git-ignored). */
const DEMO_ARCHIVE_DIR = resolve(import.meta.dirname, '..', '.tmp', 'archive');

/** The local demo's JWT secret: made once, then the same on every start (tabs survive a restart). */
function devSecret(): string {
  try {
    const kept = readFileSync(DEV_SECRET_FILE, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(kept)) return kept;
  } catch {
    // none yet
  }
  const secret = randomBytes(32).toString('hex');
  mkdirSync(dirname(DEV_SECRET_FILE), { recursive: true });
  writeFileSync(DEV_SECRET_FILE, `${secret}\n`, { mode: 0o600 });
  return secret;
}

async function answers(url: string): Promise<string | null> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    const info = await probe.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? '0';
  } catch {
    return null;
  } finally {
    probe.disconnect();
  }
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function findRedis(): Promise<{ url: string; version: string; owned: PrivateRedis | null }> {
  const candidates = [
    process.env.REDIS_URL,
    process.env.JOBSTREAM_REDIS_PROBE ?? 'redis://127.0.0.1:6379',
  ].filter((u): u is string => !!u);
  for (const url of candidates) {
    const version = await answers(url);
    if (version) return { url, version, owned: null };
  }
  if (!hasRedisServer() && process.getuid?.() === 0 && existsSync('/etc/debian_version')) {
    say('no Redis found; installing redis-server with apt-get (Debian, root)…');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!hasRedisServer()) {
    throw new Error(
      'no Redis answers and redis-server is not installed. Install Redis 7+ (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.',
    );
  }
  const owned = await PrivateRedis.start();
  return { url: owned.url, version: (await answers(owned.url)) ?? '0', owned };
}

/** A Redis this run started, so that any failure still stops it. */
let ownedRedis: PrivateRedis | null = null;

async function main(): Promise<void> {
  const { values } = readCommandLine(
    {
      usage: 'usage: npm start [-- --no-demo]',
      description: `
Everything for a local look: Redis (REDIS_URL if it answers, else a private redis-server), the
gateway serving the dashboard on PORT (8080), demo jobs, and the address to open, signed in.
Ctrl-C stops everything.

  --no-demo     no demo runners: an empty dashboard, for your own jobs (npm run jobrun)
  -h, --help    this text`,
    },
    { options: { 'no-demo': { type: 'boolean', default: false } } },
  );
  // REDIS_CLUSTER_NODES: the gateway and the demo runners use that Cluster as it is.
  const target = redisTargetFromEnv();
  if (target.clusterNodes) {
    say(`using ${describeTarget(target)}`);
  } else {
    const redis = await findRedis();
    ownedRedis = redis.owned;
    if (Number(redis.version.split('.')[0]) < 7) {
      throw new Error(
        `Redis ${redis.version} at ${redis.url} is too old: jobstream needs Redis 7+ (functions)`,
      );
    }
    say(`Redis ${redis.version} at ${redis.url}${redis.owned ? ' (started for this run)' : ''}`);
    target.url = redis.url;
  }
  const dist = buildDashboardIfStale(() => say('building the dashboard…'));
  const secret = process.env.JWT_SECRET ?? devSecret();
  const config = configFromEnv(
    {
      ...process.env,
      REDIS_URL: target.url,
      JWT_SECRET: secret,
      JWT_PUBLIC_KEY: undefined,
      HOST: process.env.HOST ?? '127.0.0.1',
      DEV_AUTH: '1',
      // No load balancer to drain locally: Ctrl-C stops at once.
      SHUTDOWN_DRAIN_MS: process.env.SHUTDOWN_DRAIN_MS ?? '0',
      JOBSTREAM_ARCHIVE_URL: process.env.JOBSTREAM_ARCHIVE_URL ?? `file://${DEMO_ARCHIVE_DIR}`,
      JOBSTREAM_HOT_RETENTION_S: process.env.JOBSTREAM_HOT_RETENTION_S ?? '60',
    },
    dist,
  );
  const gateway = await startGateway(config, {
    logger: createLogger(process.env.LOG_LEVEL ?? 'warn'),
    devSecret: secret,
  });
  const client = connectTo(target);
  client.on('error', () => undefined); // the gateway logs Redis trouble once
  const stopDemo = values['no-demo'] ? null : startDemoRunners(client, { owners: [...DEMO_OWNERS] });

  const base = `http://127.0.0.1:${gateway.port}`;
  say(
    `archive at ${config.archive?.url ?? '(none)'}: finished jobs are read from it once Redis lets go of them`,
  );
  console.log(`\njobstream is running at ${base}\n`);
  // An admin and one user are enough to show both views; the dev sign-in page offers them all.
  for (const user of DEMO_USERS.slice(0, 2)) {
    const link = `${base}/#token=${signToken(secret, { sub: user.sub, role: user.role }, 8 * 3600)}`;
    console.log(`  Open as ${user.sub} (sees ${user.sees}):\n    ${link}\n`);
  }
  // The same admin from a terminal (docs/cli.md): every running job, live, over one socket.
  const cliToken = signToken(secret, { sub: DEMO_USERS[0]!.sub, role: DEMO_USERS[0]!.role }, 8 * 3600);
  console.log(
    `  Or from a terminal:\n    JOBSTREAM_URL=${base} JOBSTREAM_TOKEN=${cliToken} npx jobstream watch --running\n`,
  );
  console.log(
    stopDemo
      ? 'Demo jobs start every few seconds. Ctrl-C stops everything.'
      : 'No demo jobs (--no-demo). Ctrl-C stops everything.',
  );

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    // Demo jobs end as cancelled; a Redis that is already gone must not hold the exit up.
    await Promise.race([stopDemo?.(), sleep(3000)]);
    await gateway.stop(5000);
    client.disconnect();
    await ownedRedis?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch(async (error: unknown) => {
  console.error(`jobstream: ${error instanceof Error ? error.message : String(error)}`);
  await ownedRedis?.stop();
  process.exit(1);
});
