/**
 * The job API (docs/protocol.md "HTTP API"), behind `Authorization: Bearer` and the owner rule: a job of
 * someone else is a 404, exactly like a missing one. Every parameter is validated.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { JobstreamError } from '../../../shared/errors.js';
import { JOB_STATUSES, type Job } from '../../../shared/job.js';
import type { OutputLine } from '../../../shared/protocol.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import { requestCancel } from '../../../shared/redis/functions.js';
import { maySee } from '../auth/principal.js';
import { jobIdSchema } from '../stream/client-frames.js';
import { notFoundMessage } from '../stream/frames.js';
import { listJobs } from './job-list.js';
import { joinEntries } from '../stream/output-frames.js';
import { readJobState } from '../redis/store.js';
import type { OutputReader } from '../archive/output-reader.js';
import { principalOf, type Authenticator } from './authenticate.js';
import { HttpError, parse, parseQuery, wholeNumber } from './errors.js';
import { DOWNLOAD_PAGE_LINES, SEARCH_RETRY_AFTER_S } from '../limits.js';
import { plainText, searchOutput, SearchSlots } from './log-search.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { issueDownloadToken } from './download-tokens.js';
import { streamApi, streamJob, type StreamDeps } from './streams.js';
import { readAnnotations } from './annotations.js';

const listQuery = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  q: z.string().max(200).optional(),
  limit: wholeNumber({ min: 1, max: 200 }).default(50),
  before: z.string().max(200).optional(),
});
const seqParam = wholeNumber();
const pageLimit = wholeNumber({ min: 1, max: 10_000 }).default(1000);
const outputQuery = z
  .object({ since: seqParam.optional(), before: wholeNumber({ min: 1 }).optional(), limit: pageLimit })
  .refine((query) => query.since === undefined || query.before === undefined, {
    message: 'since and before cannot be used together',
    path: ['before'],
  });
const searchQuery = z.object({ q: z.string().min(1).max(1000), limit: pageLimit });
const downloadQuery = z.object({
  ansi: z.enum(['keep', 'strip']).default('strip'),
  follow: z.enum(['0', '1', 'true', 'false']).optional(),
  /** Shown in the browser (a raw log view) rather than saved as a file. */
  view: z.enum(['raw']).optional(),
});

export function jobApi(
  redis: RedisConnection,
  output: OutputReader,
  authenticate: Authenticator,
  metrics: GatewayMetrics,
  streams: StreamDeps,
): Router {
  const router = Router();

  /** The job named in the path, if the caller may see it; otherwise the same 404 as a missing one. */
  async function visibleJob(req: Request): Promise<Job> {
    const id = parse(jobIdSchema, req.params.id, 'job id');
    const state = await readJobState(redis, id);
    if (!state || !maySee(principalOf(req), state.job.owner))
      throw new HttpError('not_found', notFoundMessage(id));
    return state.job;
  }

  router.get('/api/jobs', authenticate.bearer, async (req, res) => {
    const query = parseQuery(listQuery, req.query);
    try {
      res.json(await listJobs(redis, principalOf(req), query));
    } catch (error) {
      if (error instanceof RangeError) throw new HttpError('bad_request', error.message);
      throw error;
    }
  });

  router.get('/api/jobs/:id', authenticate.bearer, async (req, res) => {
    res.json(await visibleJob(req));
  });

  router.get('/api/jobs/:id/output', authenticate.bearer, async (req, res) => {
    const job = await visibleJob(req);
    const { since, before, limit } = parseQuery(outputQuery, req.query);
    // Backwards: the `limit` lines just before `before` (at most the job's end as just read),
    // oldest first; fewer where the start was trimmed.
    const end = before === undefined ? 0 : Math.min(before, job.lastSeq + 1);
    const from = before !== undefined ? Math.max(1, end - limit) : (since ?? 0) + 1;
    const page =
      before !== undefined
        ? await output.read(job.id, from, limit, { toSeq: end - 1 })
        : await output.read(job.id, from, limit);
    // One answer tells a poller everything: where to go on from, the status, and what is gone.
    let next = Math.max(from - 1, page.fromSeq - 1 + page.entries.length);
    if (before !== undefined) next = Math.min(next, end - 1);
    const gone =
      page.fromSeq > from ? { fromSeq: from, toSeq: Math.min(page.fromSeq - 1, page.lastSeq) } : null;
    const tail = {
      lastSeq: page.lastSeq,
      next,
      status: job.status,
      ...(gone && gone.toSeq >= gone.fromSeq ? { gap: gone } : {}),
    };
    // Stored entries are already JSON: joined, not re-encoded.
    res
      .type('application/json')
      .send(
        Buffer.concat([
          Buffer.from('{"lines":['),
          joinEntries(page.entries),
          Buffer.from(`],${JSON.stringify(tail).slice(1)}`),
        ]),
      );
  });

  router.get('/api/jobs/:id/annotations', authenticate.bearer, async (req, res) => {
    const job = await visibleJob(req);
    res.json(await readAnnotations(redis, job.id));
  });

  const searches = new SearchSlots();
  router.get('/api/jobs/:id/search', authenticate.bearer, async (req, res) => {
    const job = await visibleJob(req);
    const { q, limit } = parseQuery(searchQuery, req.query);
    const slot = searches.take(principalOf(req).sub);
    if ('refused' in slot) {
      metrics.searchesRefused.inc();
      throw new HttpError('rate_limited', slot.refused, SEARCH_RETRY_AFTER_S);
    }
    metrics.searchesRunning.inc();
    // A search whose client has gone stops: nobody would read its answer.
    const left = new AbortController();
    res.once('close', () => left.abort(new Error('the client closed the request')));
    try {
      const result = await searchOutput(output, job.id, {
        query: q,
        limit,
        toSeq: job.lastSeq,
        signal: left.signal,
      });
      res.json(result);
    } catch (error) {
      if (!left.signal.aborted) throw error;
    } finally {
      slot.release();
      metrics.searchesRunning.dec();
    }
  });

  router.post('/api/jobs/:id/download-token', authenticate.bearer, async (req, res) => {
    const job = await visibleJob(req);
    const token = await issueDownloadToken(redis, principalOf(req), job.id);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ url: `/api/jobs/${job.id}/output.txt?access_token=${token}` });
  });

  router.post('/api/jobs/:id/cancel', authenticate.bearer, async (req, res) => {
    const job = await visibleJob(req);
    try {
      await requestCancel(redis, job.id, principalOf(req).sub);
    } catch (error) {
      const code = JobstreamError.fromRedis(error)?.code;
      if (code === 'JOB_FINISHED') throw new HttpError('conflict', `job ${job.id} has already ended`);
      if (code === 'NOT_FOUND') throw new HttpError('not_found', notFoundMessage(job.id));
      throw error;
    }
    const state = await readJobState(redis, job.id);
    if (!state) throw new HttpError('not_found', notFoundMessage(job.id));
    res.status(202).json(state.job);
  });

  router.get('/api/jobs/:id/output.txt', authenticate.bearerOrDownload, async (req, res) => {
    const job = await visibleJob(req);
    const { ansi, follow, view } = parseQuery(downloadQuery, {
      ansi: req.query.ansi,
      follow: req.query.follow,
      view: req.query.view,
    });
    const text = ansi === 'keep' ? (line: string) => line : plainText;
    // Followed (curl -N): the lines so far, then new ones until the job ends, across the same
    // replay→live switch as a socket.
    if (follow === '1' || follow === 'true') return streamJob(streams, req, res, job, 'text', text);
    res.type('text/plain; charset=utf-8');
    res.setHeader(
      'Content-Disposition',
      `${view === 'raw' ? 'inline' : 'attachment'}; filename="${job.id}.txt"`,
    );
    // Text from a job shown in a tab: never sniffed as anything else, never a page's script.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'");
    res.setHeader('Cache-Control', 'no-store');
    const read = (from: number) => {
      const page = output.read(job.id, from, DOWNLOAD_PAGE_LINES, { toSeq: job.lastSeq, whole: true });
      page.catch(() => undefined); // read ahead: a download that stops first never awaits it
      return page;
    };
    let seq = 1;
    let reading = read(seq);
    for (;;) {
      const page = await reading;
      if (page.entries.length === 0) break;
      const next = page.fromSeq + page.entries.length;
      reading = read(next); // Redis reads the next page while this one is turned into text
      // Lines gone for good are said where they were, never skipped in silence.
      const gone = page.fromSeq > seq ? `${goneNotice(job.id, seq, page.fromSeq - 1)}\n` : '';
      const chunk =
        gone +
        page.entries
          .map((entry) => text((JSON.parse(entry.toString('utf8')) as OutputLine).line))
          .join('\n') +
        '\n';
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      if (res.destroyed) return;
      seq = next;
    }
    res.end();
  });

  router.use(streamApi(streams, authenticate, visibleJob));

  return router;
}

/** The line a download holds where lines are gone for good (trimmed before an archive kept them). */
export const goneNotice = (jobId: string, fromSeq: number, toSeq: number): string =>
  `[jobstream: lines ${fromSeq}–${toSeq} of job ${jobId} are no longer kept]`;
