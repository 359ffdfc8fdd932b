import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs (pino). LOG_LEVEL=silent in tests keeps their output readable. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'jobstream-gateway' } });
}
