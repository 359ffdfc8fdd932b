import { outputKey } from '../keys.js';
import type { OutputLine } from '../protocol.js';
import type { RedisConnection } from '../redis/client.js';

/** The lines `job:{J}:output` holds, parsed (for assertions in tests). */
export async function storedLines(redis: RedisConnection, jobId: string): Promise<OutputLine[]> {
  return (await redis.lrange(outputKey(jobId), 0, -1)).map((entry) => JSON.parse(entry) as OutputLine);
}
