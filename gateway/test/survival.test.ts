/**
 * Nothing takes a gateway down (issue 18): a gateway in a process of its own survives a Redis
 * that stalls its re-subscribe after a reconnect. Before, ioredis re-sent the SUBSCRIBE itself,
 * nobody handled its timeout, and the process exited (every socket closed 1006).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { PrivateRedis } from '../../shared/redis/private-server.js';
import { BlackHoleProxy } from '../../shared/testing/tcp-proxy.js';
import { GatewayProcess } from '../../scripts/lib/gateway-process.js';
import { eventually, metric, range, SECRET, TestClient, token } from './harness.js';

describe('a Redis that stalls the subscriber’s re-subscribe', () => {
  let server: PrivateRedis;
  let proxy: BlackHoleProxy;
  let gateway: GatewayProcess;
  let redis: Redis;
  beforeAll(async () => {
    server = await PrivateRedis.start();
    proxy = await BlackHoleProxy.start({ host: '127.0.0.1', port: server.port });
    gateway = await GatewayProcess.start({
      JWT_SECRET: SECRET,
      REDIS_URL: proxy.url,
      REDIS_DEADLINE_MS: '500',
      LIVENESS_INTERVAL_MS: '500',
    });
    redis = server.client();
  }, 60_000);
  afterAll(async () => {
    await gateway.kill();
    await proxy.stop();
    await server.stop();
  });

  it('does not crash: the socket stays open and every line arrives once', async () => {
    const id = 'stalled-resubscribe';
    await createJob(redis, { id, owner: 'alice', title: 'stalled' });
    await setJobStatus(redis, id, 'running');
    const watcher = await TestClient.connect(gateway.url, { token: token('alice') });
    watcher.send({ type: 'subscribe', jobId: id });
    await watcher.waitFor((f) => f.type === 'status');
    await appendLines(redis, id, [{ stream: 'stdout', line: 'line 1' }]);
    await watcher.waitFor(() => watcher.seqs(id).length === 1);

    // The reconnect passes its handshake; the SUBSCRIBE that follows is never answered.
    proxy.silenceOnRequest('\r\nsubscribe\r\n'); // the command, not a connection name
    expect(await redis.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(1);
    // The liveness probe finds the deaf subscriber and replaces it (its re-subscribe timed out first).
    await eventually(
      async () =>
        (await metric(gateway.url, 'jobstream_redis_forced_reconnects_total{connection="subscriber"}')) >= 1,
      15_000,
      'the deaf subscriber replaced',
    );
    for (let n = 2; n <= 50; n++) await appendLines(redis, id, [{ stream: 'stdout', line: `line ${n}` }]);
    await setJobStatus(redis, id, 'success');
    await watcher.waitFor((f) => f.type === 'done', 15_000);
    expect(watcher.seqs(id)).toEqual(range(1, 50));
    expect(watcher.closeCode).toBeNull();
    watcher.send({ type: 'ping', id: 'alive' });
    await watcher.waitFor((f) => f.type === 'pong');
    watcher.close();
  }, 60_000);
});
