/**
 * `npm run gateway`: the gateway alone, configured by the environment only (docs/operations.md
 * "Configuration"). Production runs the compiled file (`node dist/gateway/src/main.js`, built by
 * `npm run build`) as one process, so SIGTERM reaches it directly. SIGTERM/SIGINT: /readyz turns
 * 503, then every socket is closed with 1012, then the process exits 0.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, configFromEnv } from './ops/config.js';
import { createLogger } from './ops/logger.js';
import { startGateway } from './server.js';

const logger = createLogger();

/** The built dashboard: beside the sources (gateway/src) or the compiled files (dist/gateway/src). */
function dashboardDir(): string | null {
  for (const relative of ['../../client/dist', '../../../client/dist']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return null;
}

async function main(): Promise<void> {
  const config = configFromEnv(process.env, dashboardDir());
  // A rejection nobody handled (a library's own promise, say) is a bug, not a reason to drop
  // every socket: it is logged and counted, and the process goes on (Node's default exits).
  let countRejection = (): void => undefined;
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error({ err: reason }, 'unhandled promise rejection (survived; please report it)');
    countRejection();
  });
  const gateway = await startGateway(config, {
    logger,
    devSecret: config.devAuth ? (process.env.JWT_SECRET ?? null) : null,
  });
  countRejection = () => gateway.metrics.unexpectedRejections.inc();
  console.log(
    `jobstream gateway on http://127.0.0.1:${gateway.port}${config.staticDir ? '' : ' (no dashboard build: npm run build)'}`,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => process.exit(1), config.shutdownDrainMs + 15_000);
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
