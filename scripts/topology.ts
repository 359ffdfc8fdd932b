/**
 * npm run topology -- up [--gateways 3] | status | down
 *
 * The reference deployment on one machine, left running in the background: a Redis Cluster of 3
 * primaries with a replica each (short node timeout), N gateway processes on their own ports, and
 * HAProxy in front (deploy/haproxy.cfg). `up` returns once everything answers and prints the
 * dashboard's URL first, alone on its line; `status` says what runs; `down` stops everything it
 * started (by process group) and removes its files. State lives in .tmp/topology/. The gateways
 * share one archive (JOBSTREAM_ARCHIVE_URL, unless given: .tmp/topology/archive), as they
 * would share a bucket: any of them archives a job, and every one reads it back.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readCommandLine } from './lib/cli.js';
import { answersPing, freePort } from './lib/private-redis.js';
import { signToken } from '../shared/auth/tokens.js';
import { buildDashboardIfStale, ROOT } from './lib/build.js';
import { haproxyConfig } from './lib/haproxy.js';
import { alive } from './lib/processes.js';
import { createCluster, redisServerArgs } from './lib/redis-server-args.js';

const DIR = join(ROOT, '.tmp', 'topology');
const STATE = join(DIR, 'state.json');

interface Member {
  role: 'redis' | 'gateway' | 'haproxy';
  pid: number;
  port: number;
}
interface State {
  url: string;
  stats: string;
  secret: string;
  members: Member[];
}

/** A background process in its own group, its output in a log file beside the state. */
function background(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): number {
  const log = openSync(join(DIR, `${name}.log`), 'a');
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', log, log], detached: true });
  child.unref();
  return child.pid!;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up (logs in ${DIR})`);
    await sleep(100);
  }
}

const ready = (url: string): Promise<boolean> =>
  fetch(`${url}/readyz`).then(
    (r) => r.ok,
    () => false,
  );

async function up(gatewayCount: number): Promise<void> {
  if (existsSync(STATE)) throw new Error(`a topology is already up (npm run topology -- down first)`);
  mkdirSync(DIR, { recursive: true });
  const members: Member[] = [];
  try {
    // Redis Cluster: 3 primaries + 3 replicas.
    for (let i = 0; i < 6; i++) {
      const port = await freePort();
      const dir = join(DIR, `redis-${port}`);
      mkdirSync(dir, { recursive: true });
      const pid = background(
        `redis-${port}`,
        'redis-server',
        redisServerArgs({ port, dir, cluster: { nodeTimeoutMs: 2000 } }),
      );
      members.push({ role: 'redis', pid, port });
    }
    const redis = members.filter((m) => m.role === 'redis');
    for (const r of redis) await until(`redis-server :${r.port}`, () => answersPing(r.port));
    createCluster(
      redis.map((r) => r.port),
      1,
    );
    const nodes = redis.map((r) => `127.0.0.1:${r.port}`).join(',');
    // Gateways: the compiled one when built (as production runs it), the sources otherwise.
    const compiled = existsSync(join(ROOT, 'dist', 'gateway', 'src', 'main.js'));
    buildDashboardIfStale();
    const secret = randomBytes(24).toString('hex');
    for (let i = 0; i < gatewayCount; i++) {
      const port = await freePort();
      const env = {
        ...process.env,
        JWT_SECRET: secret,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_CLUSTER_NODES: nodes,
        // Signed in as production is: tokens from the secret (npm run token), never the demo's
        // DEV_AUTH route, which would hand anyone an admin token through HAProxy.
        DEV_AUTH: '',
        LOG_LEVEL: 'warn',
        JOBSTREAM_ARCHIVE_URL: process.env.JOBSTREAM_ARCHIVE_URL ?? `file://${join(DIR, 'archive')}`,
      };
      const args = compiled
        ? ['--enable-source-maps', 'dist/gateway/src/main.js']
        : ['--import', 'tsx', 'gateway/src/main.ts'];
      members.push({
        role: 'gateway',
        pid: background(`gateway-${port}`, process.execPath, args, env),
        port,
      });
    }
    for (const g of members.filter((m) => m.role === 'gateway'))
      await until(`gateway :${g.port}`, () => ready(`http://127.0.0.1:${g.port}`), 60_000);
    // HAProxy from the reference configuration.
    const port = await freePort();
    const stats = await freePort();
    const gateways = members.filter((m) => m.role === 'gateway');
    const config = haproxyConfig(gateways.length);
    writeFileSync(join(DIR, 'haproxy.cfg'), config);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      JOBSTREAM_LB_BIND: `127.0.0.1:${port}`,
      JOBSTREAM_LB_STATS: `127.0.0.1:${stats}`,
      JOBSTREAM_LB_MAXCONN: '9000',
    };
    gateways.forEach((g, i) => (env[`JOBSTREAM_GW${i + 1}`] = `127.0.0.1:${g.port}`));
    members.push({
      role: 'haproxy',
      pid: background('haproxy', 'haproxy', ['-db', '-f', join(DIR, 'haproxy.cfg')], env),
      port,
    });
    const url = `http://127.0.0.1:${port}`;
    await until('haproxy', () => ready(url));
    const state: State = { url, stats: `http://127.0.0.1:${stats}/`, secret, members };
    writeFileSync(STATE, JSON.stringify(state, null, 2));
    console.log(`${url}/#token=${signToken(secret, { sub: 'admin', role: 'admin' }, 8 * 3600)}`);
    console.log(
      `jobstream topology up: HAProxy ${url} (stats ${state.stats}) → ${gateways.length} gateways → Redis Cluster 3+3 (${nodes})`,
    );
    console.log(
      `signed in as production is (no DEV_AUTH): the link above carries an admin token for 8 h; ` +
        `more with JWT_SECRET=${secret} npm run token -- --sub <user> [--role admin]`,
    );
    console.log('npm run topology -- down stops everything');
  } catch (error) {
    for (const m of members) stopGroup(m.pid);
    rmSync(DIR, { recursive: true, force: true });
    throw error;
  }
}

function stopGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

function readState(): State | null {
  return existsSync(STATE) ? (JSON.parse(readFileSync(STATE, 'utf8')) as State) : null;
}

async function status(): Promise<number> {
  const state = readState();
  if (!state) {
    console.log('no topology is up');
    return 1;
  }
  let healthy = true;
  for (const m of state.members) {
    const running = alive(m.pid);
    healthy &&= running;
    console.log(`${m.role.padEnd(8)} :${m.port}  pid ${m.pid}  ${running ? 'running' : 'NOT RUNNING'}`);
  }
  const routing = await ready(state.url);
  console.log(`${state.url}/readyz through HAProxy: ${routing ? 'ready' : 'NOT READY'}`);
  return healthy && routing ? 0 : 1;
}

async function down(): Promise<void> {
  const state = readState();
  if (state) {
    // HAProxy first (stop routing), then the gateways (1012 to their clients, Redis still there
    // for their clean stop), then Redis: each role gone before the next is stopped.
    for (const role of ['haproxy', 'gateway', 'redis'] as const) {
      const group = state.members.filter((x) => x.role === role);
      for (const m of group) stopGroup(m.pid);
      const deadline = Date.now() + 15_000;
      while (group.some((m) => alive(m.pid)) && Date.now() < deadline) await sleep(50);
      for (const m of group.filter((x) => alive(x.pid))) process.kill(-m.pid, 'SIGKILL');
    }
  }
  rmSync(DIR, { recursive: true, force: true });
  console.log('jobstream topology down');
}

const { values, positionals } = readCommandLine(
  {
    usage: 'usage: npm run topology -- up [--gateways N] | status | down',
    description: `
The reference deployment on this machine, left running: a Redis Cluster of 3 primaries with a
replica each, N gateway processes and HAProxy in front (deploy/haproxy.cfg).

  up            starts it and prints the dashboard's address (then how to make tokens)
  status        says what runs (exit 1 when something is down)
  down          stops everything it started and removes its files (.tmp/topology/)
  --gateways N  how many gateway processes \`up\` starts (default 3)
  -h, --help    this text`,
  },
  { options: { gateways: { type: 'string', default: '3' } }, allowPositionals: true },
);
const command = positionals[0];
try {
  if (command === 'up') await up(Math.max(1, Number(values.gateways)));
  else if (command === 'down') await down();
  else if (command === 'status') process.exitCode = await status();
  else {
    console.error('usage: npm run topology -- up [--gateways N] | status | down');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(`topology: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
