/**
 * Streams over HTTP (docs/protocol.md "Streams over HTTP"): `GET /api/jobs/:id/stream` (SSE) and
 * `GET /api/jobs/:id/output.txt?follow=1`, each one Subscription written to the response
 * (event-stream.ts), and `POST /api/jobs/:id/stream-token` for a browser's EventSource, which
 * cannot send a header: an opaque token bound to the caller and the job, valid until the caller's
 * sign-in token expires (so an EventSource that reconnects with the same URL resumes). Each open
 * stream counts toward MAX_SOCKETS_PER_USER with the WebSockets.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Job } from '../../../shared/job.js';
import type { Principal } from '../auth/principal.js';
import { withDeadline } from '../redis/connections.js';
import type { SocketQuota } from '../stream/socket-quota.js';
import { unavailableFrame } from '../stream/frames.js';
import type { SubscriptionDeps } from '../stream/subscriber-socket.js';
import { Subscription } from '../stream/subscription.js';
import { principalOf, type Authenticator } from './authenticate.js';
import { issueDownloadToken } from './download-tokens.js';
import { HttpError, parse, parseQuery, wholeNumber } from './errors.js';
import { ResponseSocket, type StreamForm } from './event-stream.js';

export interface StreamDeps extends SubscriptionDeps {
  quota: SocketQuota;
  /** 0: no cap. */
  maxSocketsPerUser: number;
  redisDeadlineMs: number;
  /** Every open stream, so a shutdown ends them (an EventSource then resumes elsewhere by Last-Event-ID). */
  open: Set<ResponseSocket>;
}

const seq = wholeNumber();
const positionQuery = z
  .object({ since: seq.optional(), tail: seq.optional() })
  .refine((q) => q.since === undefined || q.tail === undefined, {
    message: 'since and tail cannot be used together',
    path: ['tail'],
  });

/** The position a stream starts from: Last-Event-ID (the last seq held), else ?since= or ?tail=. */
function positionOf(req: Request): { since?: number; tail?: number } {
  const lastEventId = req.headers['last-event-id'];
  if (typeof lastEventId === 'string' && lastEventId !== '')
    return { since: parse(seq, lastEventId, 'Last-Event-ID') };
  const { since, tail } = parseQuery(positionQuery, { since: req.query.since, tail: req.query.tail });
  return { ...(since !== undefined ? { since } : {}), ...(tail !== undefined ? { tail } : {}) };
}

/**
 * Streams job `job` to `res` in `form` until it ends, the client leaves or it cannot go on.
 * `visibleJob` has checked the caller may see it.
 */
export async function streamJob(
  deps: StreamDeps,
  req: Request,
  res: Response,
  job: Job,
  form: StreamForm,
  text: (line: string) => string = (line) => line,
): Promise<void> {
  const principal: Principal = principalOf(req);
  const position = positionOf(req);
  if (deps.maxSocketsPerUser > 0 && deps.quota.count(principal.sub) >= deps.maxSocketsPerUser)
    throw new HttpError(
      'rate_limited',
      `more than ${deps.maxSocketsPerUser} open streams and sockets for ${principal.sub}`,
      1,
    );
  deps.quota.add(principal.sub);
  deps.metrics.subscriptions.inc();
  const socket = new ResponseSocket(res, principal, form, text, () => {
    deps.open.delete(socket);
    deps.quota.remove(principal.sub);
    deps.metrics.subscriptions.dec();
  });
  deps.open.add(socket);
  const subscription = new Subscription(job.id, socket, deps);
  socket.attach(subscription);
  let refusal;
  try {
    refusal = await withDeadline(subscription.open(position), deps.redisDeadlineMs, `stream ${job.id}`);
  } catch {
    subscription.stop();
    return socket.fail(unavailableFrame(`the stream of job ${job.id}`, false, deps.redisDeadlineMs, job.id));
  }
  if (refusal) return socket.fail(refusal);
  subscription.start();
}

export function streamApi(
  deps: StreamDeps,
  authenticate: Authenticator,
  visibleJob: (req: Request) => Promise<Job>,
): Router {
  const router = Router();

  router.post('/api/jobs/:id/stream-token', authenticate.bearer, async (req, res) => {
    const job = await visibleJob(req);
    const principal = principalOf(req);
    const ttlS = Math.max(1, Math.floor((principal.expiresAt - Date.now()) / 1000));
    const token = await issueDownloadToken(deps.redis, principal, job.id, ttlS);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ url: `/api/jobs/${job.id}/stream?access_token=${token}` });
  });

  router.get('/api/jobs/:id/stream', authenticate.bearerOrDownload, async (req, res) => {
    const job = await visibleJob(req);
    await streamJob(deps, req, res, job, 'sse');
  });

  return router;
}
