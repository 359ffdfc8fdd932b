/**
 * `npm run gateway`: the gateway alone, configured by the environment only (DESIGN.md
 * "Configuration"). SIGTERM/SIGINT: stop accepting, close sockets with 1012, exit 0.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, configFromEnv } from './config.js';
import { createLogger } from './logger.js';
import { startGateway } from './server.js';

const logger = createLogger();
const dist = fileURLToPath(new URL('../../client/dist', import.meta.url));

async function main(): Promise<void> {
  const config = configFromEnv(process.env, existsSync(dist) ? dist : null);
  const gateway = await startGateway(config, {
    logger,
    devSecret: config.devAuth ? (process.env.JWT_SECRET ?? null) : null,
  });
  console.log(
    `jobstream gateway on http://127.0.0.1:${gateway.port}${config.staticDir ? '' : ' (no dashboard build: npm run build)'}`,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => process.exit(1), 15_000);
    hardStop.unref();
    void gateway.stop(10_000).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`gateway: ${error.message}`);
  else logger.fatal({ err: error }, 'gateway failed to start');
  process.exit(1);
});
