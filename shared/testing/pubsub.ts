/**
 * Collects the messages of one Redis pub/sub channel on a dedicated connection, for tests that
 * assert what was published. `next(n)` waits for the next n messages (an event, not a sleep).
 */
import type { PrivateRedis } from '../../scripts/lib/private-redis.js';

export interface MessageCollector {
  next(count: number, timeoutMs?: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function collectMessages(server: PrivateRedis, channel: string): Promise<MessageCollector> {
  const subscriber = server.client({ disableClientInfo: true }); // redis/ioredis#2037
  const received: string[] = [];
  let waiter: (() => void) | null = null;
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    received.push(message);
    waiter?.();
  });
  await subscriber.subscribe(channel);
  return {
    async next(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const remaining = deadline - Date.now();
        if (remaining <= 0)
          throw new Error(`waited for ${count} messages on ${channel}, got ${received.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiter = null;
      }
      return received.splice(0, count);
    },
    async close() {
      subscriber.disconnect();
    },
  };
}
