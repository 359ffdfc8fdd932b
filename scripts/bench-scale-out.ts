/**
 * npm run bench:scale-out [-- --sockets 3000 --jobs 30 --rate 10 --seconds 15]
 *
 * The reference deployment under load (docs/operations.md "Running past one machine"): three
 * gateway processes behind HAProxy on a Redis Cluster of three primaries with a replica each,
 * all on this machine. Figures, not assertions; printed as a table and written as JSON to
 * bench-results/.
 * - throughput: the same sockets and line rate through HAProxy to three gateways, and straight
 *   to one gateway: sockets held, lines delivered per second, publish→receive latency, gateway CPU;
 * - failover: a primary `kill -9`ed while a runner writes every 10 ms: the time from its death
 *   to the first line delivered again (the cluster's node timeout is 2 s);
 * - gateway loss: one of the three gateways `kill -9`ed: the time until every client is streaming
 *   again (the killed one's clients reconnect through HAProxy and resume with `since`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCommandLine } from './lib/cli.js';
import { jobKey } from '../shared/keys.js';
import { JobPublisher } from '../shared/runner/publisher.js';
import { appendLines, createJob, setJobStatus } from '../shared/redis/functions.js';
import { PrivateRedisCluster } from './lib/private-redis-cluster.js';
import { signToken } from '../shared/auth/tokens.js';
import { ROOT } from './lib/build.js';
import { Follower } from './lib/follower.js';
import { GatewayProcess } from './lib/gateway-process.js';
import { HaproxyProcess } from './lib/haproxy.js';
import { microsNow, stampedLine } from './lib/line-stamp.js';
import { LoadClients, percentiles } from './lib/load.js';

const { values: args } = readCommandLine(
  {
    usage: 'usage: npm run bench:scale-out [-- --sockets 3000 --jobs 30 --rate 10 --seconds 15]',
    description: `
The reference deployment under load: three gateways behind HAProxy on a Redis Cluster with
replicas, against one gateway alone; then a primary killed and a gateway killed mid-run. Figures
as a table and JSON in bench-results/ (docs/benchmarks.md).`,
  },
  {
    options: {
      sockets: { type: 'string', default: '3000' },
      jobs: { type: 'string', default: '30' },
      rate: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '15' },
    },
  },
);
const SOCKETS = Number(args.sockets);
const JOBS = Number(args.jobs);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const SECRET = 'bench-scale-out';
/**
 * Watcher i's token: admins (they may watch the bench's jobs), one user per 100 sockets, well
 * under MAX_SOCKETS_PER_USER per gateway however the sockets are spread.
 */
const token = (i: number) =>
  signToken(SECRET, { sub: `watcher-${Math.floor(i / 100)}`, role: 'admin' }, 3600);

const cluster = await PrivateRedisCluster.start(3, { replicas: 1, nodeTimeoutMs: 2000 });
const redis = cluster.client();
const env = { REDIS_CLUSTER_NODES: cluster.nodeList, JWT_SECRET: SECRET };
const gateways = await Promise.all([1, 2, 3].map(() => GatewayProcess.start(env)));
const haproxy = await HaproxyProcess.start(gateways.map((g) => g.address));
const results: Record<string, unknown> = {};

async function throughput(name: string, url: string): Promise<void> {
  const ids = Array.from({ length: JOBS }, (_, i) => `tp-${name.replace(/[^A-Za-z0-9]+/g, '-')}-${i}`);
  for (const id of ids) {
    await createJob(redis, { id, owner: 'bench', title: id });
    await setJobStatus(redis, id, 'running');
  }
  const clients = new LoadClients({
    url: url.replace('http', 'ws'),
    target: 'gateway',
    sockets: SOCKETS,
    jobIds: ids,
    token,
  });
  const connectStart = performance.now();
  await clients.connect();
  const connectS = (performance.now() - connectStart) / 1000;
  const cpuBefore = gateways.map((g) => g.cpuSeconds());
  const started = performance.now();
  let published = 0;
  while (performance.now() - started < SECONDS * 1000) {
    const tick = performance.now();
    await Promise.all(
      ids.map((id) => appendLines(redis, id, [{ stream: 'stdout', line: stampedLine(microsNow()) }])),
    );
    published += ids.length;
    await sleep(Math.max(0, 1000 / RATE - (performance.now() - tick)));
  }
  const expected = (published * SOCKETS) / JOBS;
  await clients.waitForDelivered(expected, 10_000);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = gateways.reduce((sum, g, i) => sum + g.cpuSeconds() - cpuBefore[i]!, 0);
  results[`throughput ${name}`] = {
    socketsHeld: clients.openSockets,
    connectSeconds: Math.round(connectS * 10) / 10,
    linesDeliveredPerSecond: Math.round(clients.stats.delivered / elapsed),
    lost: Math.max(0, expected - clients.stats.delivered),
    latencyMs: percentiles(clients.stats.latencyUs, 1000),
    gatewayCpuSecondsPerMillionLines: Math.round((cpu / clients.stats.delivered) * 1e6 * 10) / 10,
    errors: Object.fromEntries(clients.stats.errors),
  };
  clients.close();
  for (const id of ids) await setJobStatus(redis, id, 'success');
}

async function failover(): Promise<void> {
  const id = 'failover-0';
  const publisher = await JobPublisher.create(redis, { id, owner: 'bench', title: id }, { lingerMs: 0 });
  await publisher.start();
  const follower = new Follower(haproxy.url, token(0), [id]);
  await follower.start();
  let n = 0;
  const writer = setInterval(() => publisher.stdout(`line ${++n}`), 10);
  await follower.until(() => follower.held(id) >= 100, 10_000, 'lines before the kill');
  const shard = await cluster.shardOf(jobKey(id));
  const heldAtKill = follower.held(id);
  const killedAt = performance.now();
  await cluster.node(shard.primary).kill();
  // The runner's connection notices at once; the first line after it is the first delivered again
  // once the replica took over (lines written meanwhile wait in the publisher's buffer).
  const seqAtKill = heldAtKill + publisher.bufferedLines;
  await follower.until(() => follower.held(id) > seqAtKill, 60_000, 'a line after the failover');
  const recoveredMs = performance.now() - killedAt;
  clearInterval(writer);
  await publisher.finish(0);
  await publisher.close();
  await follower.until(() => follower.done.has(id), 30_000, 'done');
  results.failover = {
    msFromPrimaryDeathToFirstLineDelivered: Math.round(recoveredMs),
    clusterNodeTimeoutMs: 2000,
    violations: follower.violations.length,
  };
  follower.stop();
  await cluster.node(shard.primary).restart(); // back as a replica
  await cluster.untilOk();
}

async function gatewayLoss(): Promise<void> {
  const ids = Array.from({ length: JOBS }, (_, i) => `gwloss-${i}`);
  const publishers = await Promise.all(
    ids.map((id) => JobPublisher.create(redis, { id, owner: 'bench', title: id }, { lingerMs: 5 })),
  );
  await Promise.all(publishers.map((p) => p.start()));
  const followers = Array.from(
    { length: SOCKETS },
    (_, i) => new Follower(haproxy.url, token(i), [ids[i % JOBS]!]),
  );
  for (let i = 0; i < followers.length; i += 200)
    await Promise.all(followers.slice(i, i + 200).map((f) => f.start()));
  let n = 0;
  const writer = setInterval(() => {
    n++;
    for (const p of publishers) p.stdout(`line ${n}`);
  }, 100);
  await sleep(2000);
  // The gateway holding the most clients (HAProxy may have kept one out after the failover).
  const sockets = await Promise.all(
    gateways.map(async (g) => {
      const text = await (await fetch(`${g.url}/metrics`)).text();
      return Number(/^jobstream_sockets (\d+)/m.exec(text)?.[1] ?? 0);
    }),
  );
  const victim = gateways[sockets.indexOf(Math.max(...sockets))]!;
  const seqAtKill = n;
  const killedAt = performance.now();
  await victim.kill();
  await Promise.all(
    followers.map((f) => f.until(() => f.held(f.jobIds[0]!) > seqAtKill, 120_000, 'streaming again')),
  );
  const recoveredMs = performance.now() - killedAt;
  clearInterval(writer);
  await Promise.all(publishers.map((p) => p.finish(0)));
  await Promise.all(publishers.map((p) => p.close()));
  await Promise.all(followers.map((f) => f.until(() => f.done.size === 1, 60_000, 'done')));
  const moved = followers.filter((f) => f.reconnects > 0).length;
  const exact = followers.every(
    (f) =>
      f.violations.length === 0 && f.lines.get(f.jobIds[0]!)!.every((line, i) => line === `line ${i + 1}`),
  );
  results['gateway loss'] = {
    clients: SOCKETS,
    clientsOfTheKilledGateway: moved,
    msUntilEveryClientStreamsAgain: Math.round(recoveredMs),
    everyClientExact: exact,
  };
  for (const f of followers) f.stop();
}

try {
  await throughput('one gateway, direct', gateways[0]!.url);
  await throughput('HAProxy → 3 gateways', haproxy.url);
  await failover();
  await gatewayLoss();
} finally {
  await haproxy.stop();
  await Promise.all(gateways.map((g) => g.kill()));
  redis.disconnect();
  await cluster.stop();
}

const run = {
  date: new Date().toISOString(),
  command: `npm run bench:scale-out -- --sockets ${SOCKETS} --jobs ${JOBS} --rate ${RATE} --seconds ${SECONDS}`,
  results,
};
console.table(
  Object.fromEntries(
    Object.entries(results).map(([name, value]) => [
      name,
      Object.fromEntries(
        Object.entries(value as object).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : v]),
      ),
    ]),
  ),
);
const dir = join(ROOT, 'bench-results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `scale-out-${run.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
console.log(`written to ${file}`);
