/**
 * A complete local stack for scripts that drive the dashboard (screenshots, the browser
 * benchmark): a private redis-server and the gateway serving the built dashboard.
 */
import { freePort, PrivateRedis } from '../../shared/redis/private-server.js';
import { signToken, type Role } from '../../shared/tokens.js';
import { configFromEnv } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/logger.js';
import { startGateway, type Gateway } from '../../gateway/src/server.js';
import { buildDashboardIfStale } from './build.js';

export interface LocalStack {
  redis: PrivateRedis;
  gateway: Gateway;
  /** A token for this stack's secret, valid for an hour. */
  token(sub: string, role?: Role): string;
  stop(): Promise<void>;
}

export async function startLocalStack(secret: string): Promise<LocalStack> {
  const dist = buildDashboardIfStale();
  const redis = await PrivateRedis.start();
  const config = configFromEnv(
    { JWT_SECRET: secret, PORT: String(await freePort()), HOST: '127.0.0.1', REDIS_URL: redis.url },
    dist,
  );
  const gateway = await startGateway(config, { logger: createLogger('silent') });
  return {
    redis,
    gateway,
    token: (sub, role = 'user') => signToken(secret, { sub, role }, 3600),
    async stop() {
      await gateway.stop(1000);
      await redis.stop();
    },
  };
}
