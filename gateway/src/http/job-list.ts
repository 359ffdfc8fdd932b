/**
 * `GET /api/jobs`: newest first from `jobs:index` (admins) or `jobs:owner:<U>` (users, so a
 * user's list never scans everyone's), filtered by status, paged by an opaque cursor
 * `<createdAt>:<id>` (ids break ties between jobs created in the same millisecond), searched by
 * `q` (a case-insensitive substring of the title, owner or branch). Index entries whose job has
 * expired, or whose id now names another owner's job, are removed as they are met; every job
 * listed is checked against the caller (an index is a hint, never a permission). A rare filter stops after a bounded scan with a short
 * page and a cursor where the scan stopped, never with a page that claims to be the last.
 */
import { type Job, type JobStatus, jobFromHash } from '../../../shared/job.js';
import { jobKey, JOBS_INDEX, ownerIndexKey } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { JobListPage } from '../../../shared/http-api.js';
import { maySee, type Principal } from '../auth/principal.js';

export interface JobListQuery {
  status?: JobStatus | undefined;
  limit: number;
  before?: string | undefined;
  q?: string | undefined;
}

const SCAN_BATCH = 200;
/** Index entries looked at per request at most, so a rare status filter cannot scan for ever. */
const SCAN_BUDGET = 5000;

function parseCursor(before: string | undefined): { score: number; id: string | null } | null {
  if (before === undefined || before === '') return null;
  const match = /^(\d{1,16})(?::([A-Za-z0-9._-]{1,128}))?$/.exec(before);
  if (!match)
    throw new RangeError('before is a cursor from a previous page (<createdAt> or <createdAt>:<id>)');
  return { score: Number(match[1]), id: match[2] ?? null };
}

export async function listJobs(
  redis: RedisConnection,
  principal: Principal,
  query: JobListQuery,
): Promise<JobListPage> {
  if (principal.role === 'runner') return { jobs: [], next: null }; // a runner reads nothing
  const key = principal.role === 'admin' ? JOBS_INDEX : ownerIndexKey(principal.sub);
  const cursor = parseCursor(query.before);
  const jobs: Job[] = [];
  const max = cursor ? (cursor.id ? String(cursor.score) : `(${cursor.score}`) : '+inf';
  let offset = 0;
  let scanned = 0;
  let lastSeen: { id: string; score: number } | null = null;
  let exhausted = false;
  const needle = query.q?.toLowerCase();
  const matches = (job: Job): boolean =>
    !needle || [job.title, job.owner, job.branch ?? ''].some((text) => text.toLowerCase().includes(needle));
  while (jobs.length < query.limit && scanned < SCAN_BUDGET) {
    const flat = await redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', offset, SCAN_BATCH);
    if (flat.length === 0) {
      exhausted = true;
      break;
    }
    const entries: { id: string; score: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i]!, score: Number(flat[i + 1]) });
    scanned += entries.length;
    offset += entries.length;
    // Concurrent commands, not one pipeline: in a cluster the jobs live in different slots (a
    // pipeline must stay in one); on one connection ioredis writes them back to back all the same.
    const hashes = await Promise.all(entries.map((entry) => redis.hgetall(jobKey(entry.id))));
    const gone: string[] = [];
    for (let i = 0; i < entries.length && jobs.length < query.limit; i++) {
      const entry = entries[i]!;
      // Same millisecond as the cursor: reverse-lex order, so ids ≥ the cursor's were on earlier pages.
      lastSeen = entry;
      if (cursor?.id && entry.score === cursor.score && entry.id >= cursor.id) continue;
      const job = jobFromHash(hashes[i] ?? {});
      // Gone, or (in an owner's index) an id reused by someone else after the first job expired:
      // the entry is stale either way, and the job is never shown to whoever does not own it.
      if (!job || !maySee(principal, job.owner)) {
        gone.push(entry.id);
        continue;
      }
      if (query.status && job.status !== query.status) continue;
      if (!matches(job)) continue;
      jobs.push(job);
    }
    if (gone.length > 0) {
      await redis.zrem(key, ...gone);
      offset -= gone.length;
    }
    if (entries.length < SCAN_BATCH) {
      exhausted = true;
      break;
    }
  }
  const last = jobs.at(-1);
  // A full page may have more behind it; so may a short one whose scan ran out of budget (its
  // cursor is where the scan stopped); only a short page that reached the index's end is the last.
  if (last && jobs.length === query.limit) return { jobs, next: `${last.createdAt}:${last.id}` };
  if (!exhausted && lastSeen) return { jobs, next: `${lastSeen.score}:${lastSeen.id}` };
  return { jobs, next: null };
}

/**
 * Drops entries of `jobs:index` older than the retention whose job has expired. A job still
 * there (one that runs longer than the retention) keeps its entry, so it never vanishes from the
 * admin list while its owner still sees it.
 */
export async function pruneIndex(redis: RedisConnection, retentionS: number): Promise<number> {
  const ids = await redis.zrangebyscore(
    JOBS_INDEX,
    '-inf',
    `(${Date.now() - retentionS * 1000}`,
    'LIMIT',
    0,
    1000,
  );
  if (ids.length === 0) return 0;
  const exists = await Promise.all(ids.map((id) => redis.exists(jobKey(id))));
  const gone = ids.filter((_, i) => exists[i] === 0);
  return gone.length > 0 ? redis.zrem(JOBS_INDEX, ...gone) : 0;
}
