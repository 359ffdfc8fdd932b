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
 */
import { WebSocket, type RawData } from 'ws';
import { CLOSE_CODES, type ClientFrame, type ErrorCode, type ServerFrame } from '../../../shared/protocol.js';
import { AuthError, maySee, verifyToken, type Principal } from '../auth/principal.js';
import { readClientFrame } from './client-frames.js';
import type { JwtConfig } from '../ops/config.js';
import type { FeedJob, FeedListener } from './fanout.js';
import { encodeFrame, errorFrame, notFoundFrame } from './frames.js';
import type { HeartbeatTarget } from './heartbeat.js';
import { FrameBudget, rawText, type BudgetVerdict } from './frame-budget.js';
import { REPLAY_PAGE_BYTES, SEND_HIGH_WATER_BYTES } from '../limits.js';
import type { ChannelMessage } from './output-frames.js';
import { onceDrained, prepareTextFrame, sendPreparedFrame } from './ws-internals.js';
import type { Clock, TokenExpiry } from '../auth/token-expiry.js';
import { isTimeout, withDeadline } from '../redis/connections.js';
import { readJobState } from '../redis/store.js';
import { Subscription, type SubscriberSocket, type SubscriptionDeps } from './subscription.js';
import type { WriteCoalescer } from './write-coalescer.js';

/**
 * The gateway's WebSocket class (`WebSocketServer`'s `WebSocket` option): a `ws` socket that knows
 * its session, so that one set of listener functions serves every socket (a closure per socket
 * per event, and the server's own per-socket close listener, were ~0.5 KB of heap per idle socket).
 */
export class SessionSocket extends WebSocket {
  session: Session | null = null;
}

// `ws` calls listeners with the socket as `this` (typed as its base class).
const sessionOf = (ws: WebSocket): Session | null => (ws as SessionSocket).session;
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  sessionOf(this)?.receive(data, isBinary);
}
function onPong(this: WebSocket): void {
  const session = sessionOf(this);
  if (session) session.unansweredPings = 0;
}
function onClose(this: WebSocket): void {
  const session = sessionOf(this);
  if (!session) return;
  session.cleanUp();
  session.deps.closed(session);
}
/** 'close' follows an 'error'; nothing to add. */
function ignoreError(): void {}

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

/** Waiters a drain wakes at once: the pages of REPLAY_PAGE_BYTES the high-water mark holds. */
const WAKE_PER_DRAIN = Math.max(1, Math.floor(SEND_HIGH_WATER_BYTES / REPLAY_PAGE_BYTES));
/** How soon queued waiters are looked at again while the socket is not congested. */
const DRAIN_RECHECK_MS = 10;

/** One options object for every send on the hot path (text frames, never binary). */
const TEXT_FRAME = { binary: false } as const;

export class Session implements SubscriberSocket, FeedListener, HeartbeatTarget {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly budget: FrameBudget;
  private queue: Promise<void> = Promise.resolve();
  private watchingFeed = false;
  private closed = false;
  /** Subscriptions (and a feed gap) waiting for the socket to drain, woken a few at a time. */
  private drainWaiters: (() => void)[] = [];
  private awaitingDrain = false;
  private drainRecheck: NodeJS.Timeout | null = null;
  /** Feed frames were dropped while the socket was congested: a feed `gap` is owed. */
  private feedGapOwed = false;
  /** Protocol-level pings sent since the last pong. */
  unansweredPings = 0;

  constructor(
    private readonly ws: SessionSocket,
    public principal: Principal,
    readonly deps: SessionDeps,
  ) {
    this.budget = new FrameBudget(deps.maxSubscriptions);
    ws.session = this;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', ignoreError);
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
    const sent = this.deps.metrics.sent;
    sent.frames++;
    sent.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    sent.lines += lines;
  }

  sendPublished(message: ChannelMessage, lines = 0): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.deps.writes.hold(this.ws);
    // Framed once for every watcher of the message, on first use.
    if (message.frame === undefined) message.frame = prepareTextFrame(message.bytes);
    if (!message.frame || !sendPreparedFrame(this.ws, message.frame)) this.ws.send(message.bytes, TEXT_FRAME);
    const sent = this.deps.metrics.sent;
    sent.frames++;
    sent.bytes += message.bytes.length;
    sent.lines += lines;
  }

  sendFrame(frame: ServerFrame): void {
    this.send(encodeFrame(frame));
  }

  /**
   * Resolves once the socket can take more (below half the high-water mark), or closed. Waiters
   * hold nothing (guarantee 5) and are woken by the TCP stream's `drain`, never by a timer while
   * the socket stays congested: a stalled client costs no CPU. A drain wakes a few waiters at a
   * time, as many pages as the high-water mark holds, so 200 replaying subscriptions do not all
   * read a page into a socket that can take four; the rest are woken as it drains again.
   */
  drained(): Promise<void> {
    if (this.closed || (this.drainWaiters.length === 0 && !this.congested(SEND_HIGH_WATER_BYTES / 2)))
      return Promise.resolve();
    const woken = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.wakeDrainWaiters();
    return woken;
  }

  private congested(threshold = SEND_HIGH_WATER_BYTES): boolean {
    return this.ws.bufferedAmount > threshold;
  }

  private readonly wakeDrainWaiters = (): void => {
    if (this.drainRecheck) clearTimeout(this.drainRecheck);
    this.drainRecheck = null;
    if (!this.closed && this.congested(SEND_HIGH_WATER_BYTES / 2)) {
      if (this.awaitingDrain) return;
      this.awaitingDrain = true;
      const onDrain = (): void => {
        this.awaitingDrain = false;
        this.wakeDrainWaiters();
      };
      if (!onceDrained(this.ws, onDrain)) this.drainRecheck = setTimeout(onDrain, DRAIN_RECHECK_MS);
      return;
    }
    const batch = this.closed ? this.drainWaiters.length : WAKE_PER_DRAIN;
    for (const wake of this.drainWaiters.splice(0, batch)) wake();
    // Those woken may end without writing anything (done, unsubscribed): look again shortly,
    // which only ever happens while the socket is not congested and someone still waits.
    if (this.drainWaiters.length > 0) this.drainRecheck = setTimeout(this.wakeDrainWaiters, DRAIN_RECHECK_MS);
  };

  ended(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.jobId) === subscription) {
      this.subscriptions.delete(subscription.jobId);
      this.deps.metrics.subscriptions.dec();
    }
  }

  onFeedFrame(job: FeedJob, bytes: Buffer): void {
    if (!maySee(this.principal, job.owner)) return;
    if (!this.congested()) {
      this.send(bytes);
      return;
    }
    // A congested socket gets no growing queue of feed frames: one `gap` once it drains tells the
    // client to list jobs again (guarantee 6).
    if (this.feedGapOwed) return;
    this.feedGapOwed = true;
    void this.drained().then(() => {
      this.feedGapOwed = false;
      if (this.watchingFeed) this.onFeedGap();
    });
  }

  onFeedGap(): void {
    this.sendFrame({ type: 'gap', topic: 'jobs', reason: 'lagged' });
  }

  /** Closes with a code; subscriptions stop at once. */
  close(code: number, reason: string): void {
    this.cleanUp();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(code, reason);
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  terminate(): void {
    this.cleanUp();
    this.ws.terminate();
  }

  // ---- receiving -----------------------------------------------------------------------------

  /** A frame from the client (the socket's 'message' listener). */
  receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
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
      .then(() => (this.closed ? undefined : task()))
      .catch((error: unknown) => {
        if (this.closed) return;
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
        return this.drop(frame.jobId);
      case 'watch':
        return this.watch();
      case 'unwatch':
        this.watchingFeed = false;
        this.deps.fanout.unwatchFeed(this);
        return;
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
      subscription.close();
      this.ended(subscription);
      return this.redisFailed(error, jobId, `the subscription to job ${jobId}`);
    }
    if (refusal) {
      this.ended(subscription);
      this.deps.metrics.rejections.inc({ reason: refusal.code });
      this.sendFrame(refusal);
      return;
    }
    subscription.start();
  }

  /** Ends the socket's subscription to a job, if it has one. */
  private drop(jobId: string): void {
    const subscription = this.subscriptions.get(jobId);
    if (!subscription) return;
    subscription.close();
    this.ended(subscription);
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
      this.drop(jobId); // gone meanwhile (expired): the subscription ends here, as the client is told
      this.sendFrame(notFoundFrame(jobId));
      return;
    }
    this.sendFrame({ type: 'status', jobId, job: state.job });
  }

  private async watch(): Promise<void> {
    if (!this.watchingFeed) {
      this.watchingFeed = true;
      try {
        await withDeadline(this.deps.fanout.watchFeed(this), this.deps.redisDeadlineMs, 'watch');
      } catch (error) {
        this.watchingFeed = false;
        this.deps.fanout.unwatchFeed(this);
        return this.redisFailed(error, undefined, 'the jobs feed');
      }
    }
    this.sendFrame({ type: 'watching', topic: 'jobs' });
  }

  /** Answers `unavailable` for a request Redis could not serve in time (naming the job, if any). */
  private redisFailed(error: unknown, jobId: string | undefined, what: string): void {
    if (this.closed) return;
    const timedOut = isTimeout(error);
    if (timedOut) this.deps.onRedisTimeout();
    this.deps.logger.warn(
      { err: (error as Error).message, jobId, user: this.user },
      'Redis failed a request',
    );
    this.deps.metrics.rejections.inc({ reason: 'unavailable' });
    this.reply(
      'unavailable',
      timedOut
        ? `Redis did not confirm ${what} within ${this.deps.redisDeadlineMs} ms; try again`
        : `Redis is unavailable for ${what}; try again`,
      jobId,
    );
  }

  private replaceToken(token: string): void {
    let principal: Principal;
    try {
      principal = verifyToken(token, this.deps.jwt, this.deps.clock.now());
    } catch (error) {
      this.deps.metrics.rejections.inc({ reason: 'unauthorized' });
      return this.reply(
        'unauthorized',
        `token refused: ${error instanceof AuthError ? error.message : 'invalid'}`,
      );
    }
    if (principal.sub !== this.principal.sub) {
      this.deps.metrics.rejections.inc({ reason: 'unauthorized' });
      return this.reply('unauthorized', 'the new token names another user');
    }
    this.principal = principal;
    this.deps.tokenExpiry.track(this, principal.expiresAt);
    // A token with fewer rights (admin → user) ends what it may not see, as a subscribe would have
    // been answered; the feed filter reads `principal` for every frame, so it follows by itself.
    for (const subscription of [...this.subscriptions.values()]) {
      if (subscription.owner === null || maySee(principal, subscription.owner)) continue;
      this.drop(subscription.jobId);
      this.sendFrame(notFoundFrame(subscription.jobId));
    }
  }

  private reply(code: ErrorCode, message: string, jobId?: string): void {
    this.sendFrame(errorFrame(code, message, jobId));
  }

  /** Releases everything the socket holds; runs once, on close or before closing it. */
  cleanUp(): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.tokenExpiry.untrack(this);
    for (const subscription of this.subscriptions.values()) subscription.close();
    this.deps.metrics.subscriptions.dec(this.subscriptions.size);
    this.subscriptions.clear();
    if (this.watchingFeed) this.deps.fanout.unwatchFeed(this);
    this.wakeDrainWaiters(); // every waiter, at once: they find the socket closed
  }
}
