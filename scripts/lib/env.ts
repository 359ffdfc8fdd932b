/** Reading the environment variables of DESIGN.md's configuration section in one place. */
export function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}
