/**
 * The gateway's reads from Redis: a job's state and its output by seq. A page is read in one
 * MULTI together with the job's seq and the list length, so the seq → index mapping is exact
 * even while the runner appends and the list is trimmed.
 */
import { jobFromHash, type Job } from '../../shared/job.js';
import { jobKey, outputKey } from '../../shared/keys.js';
import type { RedisConnection } from '../../shared/redis/client.js';

export interface JobState {
  job: Job;
  /** Seq of the oldest line still in the list (lastSeq + 1 when the list is empty). */
  firstRetained: number;
}

export interface OutputPage {
  /** Seq of entries[0]; greater than the asked-for seq when those lines were trimmed. */
  fromSeq: number;
  entries: string[];
  lastSeq: number;
}

function firstRetained(seq: number, length: number): number {
  return seq - length + 1;
}

export async function readJobState(redis: RedisConnection, jobId: string): Promise<JobState | null> {
  const results = await redis.multi().hgetall(jobKey(jobId)).llen(outputKey(jobId)).exec();
  const hash = results?.[0]?.[1] as Record<string, string> | undefined;
  const length = Number(results?.[1]?.[1] ?? 0);
  const job = hash ? jobFromHash(hash) : null;
  if (!job) return null;
  return { job, firstRetained: firstRetained(job.lastSeq, length) };
}

/**
 * Up to `limit` entries with seq ≥ `fromSeq` (and ≤ `toSeq`). Entries are stored JSON, passed on
 * as they are.
 */
export async function readOutput(
  redis: RedisConnection,
  jobId: string,
  fromSeq: number,
  limit: number,
  toSeq = Number.MAX_SAFE_INTEGER,
): Promise<OutputPage> {
  const key = outputKey(jobId);
  // A guess of the first retained seq, checked by the MULTI below; a trim in between means one retry.
  let guess: number | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (guess === null) {
      const results = await redis.multi().hget(jobKey(jobId), 'seq').llen(key).exec();
      guess = firstRetained(Number(results?.[0]?.[1] ?? 0), Number(results?.[1]?.[1] ?? 0));
    }
    const start = Math.max(fromSeq, guess);
    const end = Math.min(toSeq, start + limit - 1);
    const results = await redis
      .multi()
      .hget(jobKey(jobId), 'seq')
      .llen(key)
      .lrange(key, start - guess, end - guess)
      .exec();
    const seq = Number(results?.[0]?.[1] ?? 0);
    const actual = firstRetained(seq, Number(results?.[1]?.[1] ?? 0));
    if (actual === guess) {
      return { fromSeq: start, entries: (results?.[2]?.[1] as string[] | undefined) ?? [], lastSeq: seq };
    }
    guess = actual;
  }
  throw new Error(`output of ${jobId} kept moving under the read`);
}
