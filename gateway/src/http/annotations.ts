/**
 * A job's annotations (docs/protocol.md "HTTP API"): the `::error::`, `::warning::` and
 * `::notice::` lines of the whole job, kept by the function library as lines are stored (the
 * first 1,000 in `job:{J}:annotations`, every one counted in the job hash), so a summary can list
 * them and link to each line however far back, without the browser holding the log.
 */
import { jobKey } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { Annotation, AnnotationsPage } from '../../../shared/http-api.js';

export async function readAnnotations(redis: RedisConnection, jobId: string): Promise<AnnotationsPage> {
  const [entries, fields] = await Promise.all([
    redis.lrange(`${jobKey(jobId)}:annotations`, 0, -1),
    redis.hmget(
      jobKey(jobId),
      'firstErrorSeq',
      'annotationErrors',
      'annotationWarnings',
      'annotationNotices',
    ),
  ]);
  const annotations: Annotation[] = [];
  for (const entry of entries) {
    try {
      annotations.push(JSON.parse(entry) as Annotation);
    } catch {
      // written around the library: skipped, as the job list skips a malformed entry
    }
  }
  const [firstError, ...counts] = fields;
  return {
    annotations,
    firstErrorSeq: firstError ? Number(firstError) : null,
    total: counts.reduce((sum, n) => sum + Number(n ?? 0), 0),
  };
}
