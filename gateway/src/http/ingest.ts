/**
 * Runners over HTTP (docs/runners.md "Over HTTP"): `POST /api/jobs` creates a job and hands out
 * its job token; with that token alone a runner appends lines (idempotently, with `after`),
 * heartbeats, sets the status and publishes progress — for that one job, through the same
 * library functions as a direct runner, so lines are numbered in one place.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { JobstreamError } from '../../../shared/errors.js';
import {
  isTerminal,
  JOB_STATUSES,
  METADATA_INTEGER_FIELDS,
  METADATA_TEXT_FIELDS,
  type JobMetadata,
} from '../../../shared/job.js';
import { jobKey } from '../../../shared/keys.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import {
  appendLinesAfter,
  createJob,
  heartbeat,
  publishProgress,
  setJobStatus,
  type LineToAppend,
} from '../../../shared/redis/functions.js';
import { bearerToken } from '../auth/principal.js';
import { INGEST_MAX_BODY_BYTES, INGEST_MAX_LINES, INGEST_REQUEST_RATE, TokenBucket } from '../limits.js';
import { readJobState } from '../redis/store.js';
import { jobIdSchema } from '../stream/client-frames.js';
import { notFoundMessage } from '../stream/frames.js';
import { principalOf, type Authenticator } from './authenticate.js';
import { HttpError, parse, parseQuery, wholeNumber } from './errors.js';
import { creatorOf, isJobToken, issueJobToken } from './job-tokens.js';

const streamSchema = z.enum(['stdout', 'stderr']);
const textField = z.string();
const integerField = z.number().int().safe();
const metadataShape = {
  ...Object.fromEntries(METADATA_TEXT_FIELDS.map((f) => [f, textField.optional()])),
  ...Object.fromEntries(METADATA_INTEGER_FIELDS.map((f) => [f, integerField.optional()])),
} as Record<string, z.ZodOptional<z.ZodString> | z.ZodOptional<z.ZodNumber>>;
const createBody = z
  .object({
    id: jobIdSchema.optional(),
    owner: z.string().min(1).max(256).optional(),
    ...metadataShape,
    title: z.string(),
  })
  .strict();
const lineSchema = z.object({ stream: streamSchema.default('stdout'), line: z.string() }).strict();
const linesBody = z.object({
  after: z.number().int().min(0).safe(),
  lines: z.array(lineSchema).max(INGEST_MAX_LINES, `at most ${INGEST_MAX_LINES} lines in one call`),
});
const textQuery = z.object({
  after: wholeNumber(),
  stream: streamSchema.default('stdout'),
});
// Any other field goes to the library, which refuses protected and unknown ones by name.
const statusBody = z
  .object({ status: z.enum(JOB_STATUSES), lastSeq: z.number().int().min(0).safe().optional() })
  .catchall(z.union([z.string(), z.number()]));
const progressBody = z.object({ stream: streamSchema.default('stdout'), line: z.string() }).strict();

/** Bodies past 1 MiB are refused (413 too_large) before they are read whole. */
const jsonBody = express.json({ limit: INGEST_MAX_BODY_BYTES, type: 'application/json' });
const textBody = express.text({ limit: INGEST_MAX_BODY_BYTES, type: 'text/plain' });

/** `text/plain` lines: one per `\n` (`\r\n` counts as one), a final `\n` ends the last line. */
export function textLines(body: string): string[] {
  if (body === '') return [];
  const lines = body.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Tracked job tokens' buckets, forgotten wholesale past this many (a bound, not an LRU). */
const MAX_TRACKED_JOBS = 10_000;

export function ingestApi(redis: RedisConnection, authenticate: Authenticator, jobTokenTtlS: number): Router {
  const router = Router();
  const buckets = new Map<string, TokenBucket>();

  /** The job token of the job in the path, and the job's request budget. */
  const jobWriter = (req: Request, _res: Response, next: NextFunction): void => {
    const id = parse(jobIdSchema, req.params.id, 'job id');
    const token = bearerToken(req.headers.authorization);
    if (!token) return next(new HttpError('unauthorized', 'Authorization: Bearer <job token> is required'));
    isJobToken(redis, id, token).then((valid) => {
      // Another job's token, an expired one, or none for a job that does not exist: the same 404.
      if (!valid) return next(new HttpError('not_found', notFoundMessage(id)));
      if (buckets.size > MAX_TRACKED_JOBS) buckets.clear();
      let bucket = buckets.get(id);
      if (!bucket)
        buckets.set(id, (bucket = new TokenBucket(INGEST_REQUEST_RATE.perSecond, INGEST_REQUEST_RATE.burst)));
      if (!bucket.take())
        return next(
          new HttpError(
            'rate_limited',
            `more than ${INGEST_REQUEST_RATE.perSecond} requests a second for job ${id}; batch more lines per call`,
            Math.max(1, Math.ceil(bucket.msUntilNext() / 1000)),
          ),
        );
      next();
    }, next);
  };

  router.post('/api/jobs', authenticate.bearer, jsonBody, async (req, res) => {
    const principal = principalOf(req);
    const { id: asked, owner: askedOwner, title, ...fields } = parse(createBody, req.body);
    if (principal.role === 'user' && askedOwner !== undefined && askedOwner !== principal.sub)
      throw new HttpError(
        'forbidden',
        'a user token creates jobs for itself only; a runner or admin token may name an owner',
      );
    const owner = askedOwner ?? principal.sub;
    const id = asked ?? `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    try {
      await createJob(redis, { id, owner, title, fields: fields as JobMetadata });
    } catch (error) {
      const code = JobstreamError.fromRedis(error)?.code;
      if (code !== 'JOB_EXISTS') throw libraryError(error, id);
      // A retried creation whose reply was lost: the same caller, the job still queued.
      const state = await readJobState(redis, id);
      const sameCaller = (await creatorOf(redis, id)) === principal.sub;
      if (!state || !sameCaller || state.job.status !== 'queued' || state.job.owner !== owner)
        throw new HttpError('conflict', `job ${id} already exists`);
      const jobToken = await issueJobToken(redis, id, principal.sub, jobTokenTtlS);
      res.setHeader('Cache-Control', 'no-store');
      res.status(200).json({ job: state.job, jobToken });
      return;
    }
    const jobToken = await issueJobToken(redis, id, principal.sub, jobTokenTtlS);
    const state = await readJobState(redis, id);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ job: state?.job, jobToken });
  });

  router.post('/api/jobs/:id/lines', jobWriter, jsonBody, textBody, async (req, res) => {
    const id = parse(jobIdSchema, req.params.id, 'job id');
    let after: number;
    let lines: LineToAppend[];
    if (typeof req.body === 'string') {
      const query = parseQuery(textQuery, req.query);
      const text = textLines(req.body);
      if (text.length > INGEST_MAX_LINES)
        throw new HttpError('bad_request', `at most ${INGEST_MAX_LINES} lines in one call`);
      after = query.after;
      lines = text.map((line) => ({ stream: query.stream, line }));
    } else {
      if (!req.is('application/json'))
        throw new HttpError(
          'bad_request',
          'send application/json {"after":N,"lines":[…]} or text/plain with ?after=N',
        );
      ({ after, lines } = parse(linesBody, req.body));
    }
    let lastSeq: number;
    try {
      lastSeq =
        lines.length > 0
          ? await appendLinesAfter(redis, id, after, lines)
          : await checkAfter(redis, id, after);
    } catch (error) {
      throw libraryError(error, id);
    }
    const cancelRequestedAt = Number((await redis.hget(jobKey(id), 'cancelRequestedAt')) ?? 0);
    res.json({ lastSeq, cancelRequestedAt });
  });

  router.post('/api/jobs/:id/heartbeat', jobWriter, async (req, res) => {
    const id = parse(jobIdSchema, req.params.id, 'job id');
    try {
      res.json({ cancelRequestedAt: await heartbeat(redis, id) });
    } catch (error) {
      throw libraryError(error, id);
    }
  });

  router.post('/api/jobs/:id/status', jobWriter, jsonBody, async (req, res) => {
    const id = parse(jobIdSchema, req.params.id, 'job id');
    const { status, lastSeq, ...fields } = parse(statusBody, req.body ?? {});
    const state = await readJobState(redis, id);
    if (!state) throw new HttpError('not_found', notFoundMessage(id));
    if (isTerminal(status)) {
      if (lastSeq === undefined)
        throw new HttpError('bad_request', 'a terminal status names the lastSeq the runner believes stored');
      if (lastSeq !== state.job.lastSeq)
        throw new HttpError(
          'seq_mismatch',
          `job ${id} holds up to seq ${state.job.lastSeq}, not ${lastSeq}: send the rest before finishing`,
          undefined,
          { lastSeq: state.job.lastSeq },
        );
      // The same finish again (its reply was lost): answered, nothing changes.
      if (state.job.status === status) return void res.json(state.job);
    }
    try {
      await setJobStatus(redis, id, status, fields as JobMetadata);
    } catch (error) {
      throw libraryError(error, id);
    }
    res.json((await readJobState(redis, id))?.job);
  });

  router.post('/api/jobs/:id/progress', jobWriter, jsonBody, async (req, res) => {
    const id = parse(jobIdSchema, req.params.id, 'job id');
    const { stream, line } = parse(progressBody, req.body ?? {});
    try {
      res.json({ afterSeq: await publishProgress(redis, id, stream, line) });
    } catch (error) {
      throw libraryError(error, id);
    }
  });

  return router;
}

/** An empty batch still checks `after`: the answer says where the job is. */
async function checkAfter(redis: RedisConnection, id: string, after: number): Promise<number> {
  const [status, seq] = await redis.hmget(jobKey(id), 'status', 'seq');
  if (status === null) throw new JobstreamError('NOT_FOUND', `job ${id} does not exist`);
  const lastSeq = Number(seq ?? 0);
  if (after > lastSeq)
    throw new JobstreamError('SEQ_MISMATCH', `${lastSeq} is the last seq stored for job ${id}`);
  return lastSeq;
}

/** A library error as the HTTP answer a runner acts on. */
function libraryError(error: unknown, id: string): unknown {
  const typed = JobstreamError.fromRedis(error);
  if (!typed) return error;
  switch (typed.code) {
    case 'NOT_FOUND':
      return new HttpError('not_found', notFoundMessage(id));
    case 'JOB_FINISHED':
      return new HttpError('job_finished', `job ${id} has ended; nothing more can be written to it`);
    case 'SEQ_MISMATCH': {
      const lastSeq = Number(typed.message.split(' ')[0]);
      return new HttpError(
        'seq_mismatch',
        `job ${id} holds up to seq ${lastSeq}: send again from there`,
        undefined,
        {
          lastSeq,
        },
      );
    }
    case 'BAD_TRANSITION':
      return new HttpError('conflict', typed.message);
    case 'JOB_EXISTS':
      return new HttpError('conflict', typed.message);
    default:
      return new HttpError('bad_request', `${typed.code}: ${typed.message}`);
  }
}
