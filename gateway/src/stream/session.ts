/**
 * One authenticated WebSocket: its frames, subscriptions, feed watch, token and limits.
 *
 * Frames are handled one after another and replies keep that order: a frame's handler runs to
 * its reply (for `subscribe`, the `status` frame or an `error` naming the job) before the next
 * frame starts; replays then continue in the background. No handler waits on Redis longer than
 * the deadline, so a `ping` queued behind a `subscribe` is answered within it even while Redis is
 * deaf. Every input is validated; a bad frame is answered with an `error` frame and the socket
 * stays open. The rate limit is checked on arrival: a refused frame is answered, in order, with
 * `rate_limited` (naming the job of a `subscribe`, with `retryAfterMs`), never dropped unanswered.
 * Once the socket has closed nothing queued is handled and nothing it asked for is kept.
 *
 * Lifecycle words, one meaning each (Subscription uses the same): `close(code)` and
 * `terminate()` are the WebSocket's own (a close frame; the connection dropped at once);
 * `release()` frees what the session holds (subscriptions, feed watch, token watch, waiters) and
 * runs once, from either; a subscription is `stop()`ped by its session (an `unsubscribe` frame,
 * a token that no longer allows it, the socket gone) and tells the session when it has ended by
 * itself (`subscriptionEnded`: done, not found, unavailable).
 */
import { WebSocket, type RawData } from 'ws';
import { CLOSE_CODES, type ClientFrame, type ErrorCode, type ServerFrame } from '../../../shared/protocol.js';
import { maySee, verifyReplacement, type Principal } from '../auth/principal.js';
import { readClientFrame } from './client-frames.js';
import type { JwtConfig } from '../ops/config.js';
import { FeedWatch } from './feed-watch.js';
import { encodeFrame, errorFrame, notFoundFrame, unavailableFrame } from './frames.js';
import type { HeartbeatTarget } from './heartbeat.js';
import { FrameBudget, rawText, type BudgetVerdict } from './frame-budget.js';
import { SEND_HIGH_WATER_BYTES } from '../limits.js';
import type { ChannelMessage } from './output-frames.js';
import { prepareTextFrame, sendPreparedFrame } from './ws-internals.js';
import { DrainWaiters } from './drain-waiters.js';
import { attachSession, type SessionSocket } from './session-socket.js';
import type { Clock, TokenExpiry } from '../auth/token-expiry.js';
import { isTimeout, withDeadline } from '../redis/connections.js';
import { readJobState } from '../redis/store.js';
import { Subscription } from './subscription.js';
import type { SubscriberSocket, SubscriptionDeps } from './subscriber-socket.js';
import type { WriteCoalescer } from './write-coalescer.js';

export interface SessionDeps extends SubscriptionDeps {
  jwt: JwtConfig;
  maxSubscriptions: number;
  /** The longest a reply waits on Redis. */
  redisDeadlineMs: number;
  /** Told when a Redis command timed out, so a deaf connection is found at once. */
  onRedisTimeout(): void;
  /** The gateway's clock, and its one watch over token expiry (closes with 4001). */
  clock: Clock;
  tokenExpiry: TokenExpiry<Session>;
  /** Coalesces each socket's frames of one event-loop turn into one write. */
  writes: WriteCoalescer;
  /** The socket closed (once, after its subscriptions were released). */
  closed(session: Session): void;
}

/** One options object for every send on the hot path (text frames, never binary). */
const TEXT_FRAME = { binary: false } as const;

export class Session implements SubscriberSocket, HeartbeatTarget {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly budget: FrameBudget;
  private queue: Promise<void> = Promise.resolve();
  private readonly feed: FeedWatch;
  private released = false;
  /** Subscriptions (and a feed gap) waiting for the socket to drain, woken a few at a time. */
  private readonly drainWaiters: DrainWaiters;
  /** Protocol-level pings sent since the last pong. */
  unansweredPings = 0;

  constructor(
    private readonly ws: SessionSocket,
    public principal: Principal,
    readonly deps: SessionDeps,
  ) {
    this.budget = new FrameBudget(deps.maxSubscriptions);
    this.drainWaiters = new DrainWaiters(ws);
    this.feed = new FeedWatch(this, deps.fanout);
    attachSession(ws, this);
    deps.tokenExpiry.track(this, principal.expiresAt);
  }

  get user(): string {
    return this.principal.sub;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(data: string | Buffer, lines = 0): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.deps.writes.hold(this.ws);
    this.ws.send(data, TEXT_FRAME);
    this.counted(typeof data === 'string' ? Buffer.byteLength(data) : data.length, lines);
  }

  sendPublished(message: ChannelMessage, lines = 0): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.deps.writes.hold(this.ws);
    // Framed once for every watcher of the message, on first use.
    if (message.frame === undefined) message.frame = prepareTextFrame(message.bytes);
    if (!message.frame || !sendPreparedFrame(this.ws, message.frame)) this.ws.send(message.bytes, TEXT_FRAME);
    this.counted(message.bytes.length, lines);
  }

  /** One frame sent, for the metrics (a plain object on the hot path, read at scrape time). */
  private counted(bytes: number, lines: number): void {
    const sent = this.deps.metrics.sent;
    sent.frames++;
    sent.bytes += bytes;
    sent.lines += lines;
  }

  sendFrame(frame: ServerFrame): void {
    this.send(encodeFrame(frame));
  }

  /** Resolves once the socket can take more, or closed (drain-waiters.ts). */
  drained(): Promise<void> {
    return this.drainWaiters.drained();
  }

  congested(): boolean {
    return this.ws.bufferedAmount > SEND_HIGH_WATER_BYTES;
  }

  subscriptionEnded(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.jobId) === subscription) {
      this.subscriptions.delete(subscription.jobId);
      this.deps.metrics.subscriptions.dec();
    }
  }

  /** Closes with a code; subscriptions stop at once. */
  close(code: number, reason: string): void {
    this.release();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(code, reason);
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  terminate(): void {
    this.release();
    this.ws.terminate();
  }

  // ---- receiving -----------------------------------------------------------------------------

  /** A frame from the client (the socket's 'message' listener). */
  receive(data: RawData, isBinary: boolean): void {
    if (this.released) return;
    const verdict = this.budget.take(data, isBinary);
    if (!verdict.accepted) {
      this.refuse(verdict);
      return;
    }
    this.enqueue(() =>
      isBinary
        ? this.reply('bad_request', 'binary frames are not part of jobstream.v1; send JSON text')
        : this.handle(data),
    );
  }

  /** Runs `task` after every frame before it; nothing runs once the socket has closed. */
  private enqueue(task: () => void | Promise<void>): void {
    this.queue = this.queue
      .then(() => (this.released ? undefined : task()))
      .catch((error: unknown) => {
        if (this.released) return;
        this.deps.logger.error({ err: error, user: this.user }, 'frame handler failed');
        this.reply('unavailable', 'the frame could not be handled; send it again');
      });
  }

  /** Answers a frame over the budget in order, or closes a socket that keeps flooding. */
  private refuse(verdict: Extract<BudgetVerdict, { accepted: false }>): void {
    this.deps.metrics.rejections.inc({ reason: 'rate_limited' });
    if (verdict.firstInWindow) this.deps.logger.info({ user: this.user }, 'rate limited');
    if (verdict.close) {
      this.deps.logger.warn({ user: this.user }, 'closing a socket that kept flooding');
      // Said now, not queued behind the flood's own frames: the socket closes right after.
      this.sendFrame(verdict.answer);
      this.close(CLOSE_CODES.policyViolation, 'rate limit exceeded');
      return;
    }
    this.enqueue(() => this.sendFrame(verdict.answer));
  }

  private async handle(data: RawData): Promise<void> {
    const read = readClientFrame(rawText(data));
    if ('frame' in read) return this.dispatch(read.frame);
    this.deps.metrics.rejections.inc({ reason: 'bad_request' });
    return this.reply('bad_request', read.problem, read.jobId);
  }

  private async dispatch(frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'subscribe':
        return this.subscribe(frame.jobId, frame.since, frame.tail);
      case 'unsubscribe':
        return this.unsubscribe(frame.jobId);
      case 'watch':
        return this.watch();
      case 'unwatch':
        return this.feed.stop();
      case 'auth':
        return this.replaceToken(frame.token);
      case 'ping':
        this.sendFrame(frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: frame.id });
        return;
    }
  }

  private async subscribe(jobId: string, since: number | undefined, tail: number | undefined): Promise<void> {
    if (this.subscriptions.has(jobId)) return this.answerAgain(jobId);
    if (this.subscriptions.size >= this.deps.maxSubscriptions) {
      this.deps.metrics.rejections.inc({ reason: 'too_many_subscriptions' });
      return this.reply(
        'too_many_subscriptions',
        `at most ${this.deps.maxSubscriptions} subscriptions per socket; unsubscribe from one first`,
        jobId,
      );
    }
    const subscription = new Subscription(jobId, this, this.deps);
    this.subscriptions.set(jobId, subscription);
    this.deps.metrics.subscriptions.inc();
    let refusal;
    try {
      refusal = await withDeadline(
        subscription.open({ since, tail }),
        this.deps.redisDeadlineMs,
        `subscribe ${jobId}`,
      );
    } catch (error) {
      subscription.stop();
      this.subscriptionEnded(subscription);
      return this.redisFailed(error, jobId, `the subscription to job ${jobId}`);
    }
    if (refusal) {
      this.subscriptionEnded(subscription);
      this.deps.metrics.rejections.inc({ reason: refusal.code });
      this.sendFrame(refusal);
      return;
    }
    subscription.start();
  }

  /** Ends the socket's subscription to a job, if it has one. */
  private unsubscribe(jobId: string): void {
    const subscription = this.subscriptions.get(jobId);
    if (!subscription) return;
    subscription.stop();
    this.subscriptionEnded(subscription);
  }

  /** A repeated subscribe: a fresh `status`; the stream and its position go on untouched. */
  private async answerAgain(jobId: string): Promise<void> {
    let state;
    try {
      state = await withDeadline(readJobState(this.deps.redis, jobId), this.deps.redisDeadlineMs, 'status');
    } catch (error) {
      return this.redisFailed(error, jobId, `the status of job ${jobId}`);
    }
    if (!state || !maySee(this.principal, state.job.owner)) {
      this.unsubscribe(jobId); // gone meanwhile (expired): the subscription ends here, as the client is told
      this.sendFrame(notFoundFrame(jobId));
      return;
    }
    this.sendFrame({ type: 'status', jobId, job: state.job });
  }

  private async watch(): Promise<void> {
    try {
      await this.feed.start((watching) => withDeadline(watching, this.deps.redisDeadlineMs, 'watch'));
    } catch (error) {
      return this.redisFailed(error, undefined, 'the jobs feed');
    }
    this.sendFrame({ type: 'watching', topic: 'jobs' });
  }

  /** Answers `unavailable` for a request Redis could not serve in time (naming the job, if any). */
  private redisFailed(error: unknown, jobId: string | undefined, what: string): void {
    if (this.released) return;
    const timedOut = isTimeout(error);
    if (timedOut) this.deps.onRedisTimeout();
    this.deps.logger.warn(
      { err: (error as Error).message, jobId, user: this.user },
      'Redis failed a request',
    );
    this.deps.metrics.rejections.inc({ reason: 'unavailable' });
    this.sendFrame(unavailableFrame(what, timedOut, this.deps.redisDeadlineMs, jobId));
  }

  private replaceToken(token: string): void {
    const principal = verifyReplacement(token, this.principal, this.deps.jwt, this.deps.clock.now());
    if ('refused' in principal) {
      this.deps.metrics.rejections.inc({ reason: 'unauthorized' });
      return this.reply('unauthorized', principal.refused);
    }
    this.principal = principal;
    this.deps.tokenExpiry.track(this, principal.expiresAt);
    // A token with fewer rights (admin → user) ends what it may not see, as a subscribe would have
    // been answered; the feed filter reads `principal` for every frame, so it follows by itself.
    for (const subscription of [...this.subscriptions.values()]) {
      if (subscription.owner === null || maySee(principal, subscription.owner)) continue;
      this.unsubscribe(subscription.jobId);
      this.sendFrame(notFoundFrame(subscription.jobId));
    }
  }

  private reply(code: ErrorCode, message: string, jobId?: string): void {
    this.sendFrame(errorFrame(code, message, jobId));
  }

  /** Releases everything the socket holds; runs once, on close or before closing it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.deps.tokenExpiry.untrack(this);
    for (const subscription of this.subscriptions.values()) subscription.stop();
    this.deps.metrics.subscriptions.dec(this.subscriptions.size);
    this.subscriptions.clear();
    this.feed.stop();
    this.drainWaiters.release(); // every waiter, at once: they find the socket closed
  }
}
