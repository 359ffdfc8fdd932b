import { launchBrowser } from './scripts/lib/browser.js';
import { TestRedis, freePort } from './shared/testing/redis-server.js';
import { configFromEnv } from './gateway/src/config.js';
import { createLogger } from './gateway/src/logger.js';
import { startGateway } from './gateway/src/server.js';
import { signToken } from './shared/tokens.js';
import { JobPublisher } from './shared/publisher.js';
const r = await TestRedis.start();
const config = configFromEnv(
  { JWT_SECRET: 's', PORT: String(await freePort()), HOST: '127.0.0.1', REDIS_URL: r.url },
  '/work/main/client/dist',
);
const g = await startGateway(config, { logger: createLogger('silent') });
const b = await launchBrowser();
const p = await b.newPage();
p.on('websocket', (ws) => {
  ws.on('framesent', (f) => console.log('sent', String(f.payload).slice(0, 100)));
  ws.on('framereceived', (f) => console.log('recv', String(f.payload).slice(0, 100)));
});
await p.goto(`${g.url}/wall#token=${signToken('s', { sub: 'root', role: 'admin' }, 3600)}`);
await p.waitForTimeout(1000);
const pub = await JobPublisher.create(r.client(), { id: 'late', owner: 'bob', title: 'late' });
await pub.start();
pub.stdout('hello wall');
await pub.flush();
await p.waitForTimeout(1000);
console.log('tiles', await p.locator('.tile').count());
await pub.finish(0);
await p.waitForTimeout(1500);
console.log(
  'tiles after',
  await p.locator('.tile').count(),
  await p
    .locator('.tile')
    .first()
    .textContent()
    .catch(() => null),
);
await b.close();
await g.stop(100);
await r.stop();
