/**
 * One authenticated WebSocket: its frames, subscriptions, feed watch, token and limits.
 *
 * Frames are handled one after another and replies keep that order: a frame's handler runs to
 * its reply (for `subscribe`, the `status` frame) before the next frame starts; replays then
 * continue in the background. Every input is validated; a bad frame is answered with an `error`
 * frame and the socket stays open. The rate limit is checked on arrival, before queueing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import {
  clientFrameSchema,
  CLOSE_CODES,
  type ClientFrame,
  type ErrorCode,
  type ServerFrame,
} from '../../shared/protocol.js';
import { AuthError, maySee, verifyToken, type Principal } from './auth.js';
import type { JwtConfig } from './config.js';
import type { FeedListener } from './fanout.js';
import { FLOOD_CLOSE, FRAME_RATE, SEND_HIGH_WATER_BYTES, TokenBucket } from './limits.js';
import { Subscription, type SubscriberSocket, type SubscriptionDeps } from './subscription.js';

export interface SessionDeps extends SubscriptionDeps {
  jwt: JwtConfig;
  maxSubscriptions: number;
}

/** One options object for every send on the hot path (text frames, never binary). */
const TEXT_FRAME = { binary: false } as const;

/** setTimeout's limit; a token valid for longer is re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Session implements SubscriberSocket, FeedListener {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly bucket = new TokenBucket(FRAME_RATE.perSecond, FRAME_RATE.burst);
  private queue: Promise<void> = Promise.resolve();
  private watchingFeed = false;
  private expiryTimer: NodeJS.Timeout | null = null;
  private refusedInWindow = 0;
  private windowStartedAt = 0;
  private lastRateErrorAt = 0;
  private closed = false;
  /** Answered protocol-level pings since the last heartbeat tick. */
  alive = true;

  constructor(
    private readonly ws: WebSocket,
    public principal: Principal,
    private readonly deps: SessionDeps,
  ) {
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.cleanUp());
    ws.on('error', () => undefined); // 'close' follows; nothing to add
    this.armExpiry();
  }

  get user(): string {
    return this.principal.sub;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(data: string | Buffer, lines = 0): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, TEXT_FRAME);
    const sent = this.deps.metrics.sent;
    sent.frames++;
    sent.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    sent.lines += lines;
  }

  sendFrame(frame: ServerFrame): void {
    this.send(JSON.stringify(frame));
  }

  async drained(): Promise<void> {
    // ws has no drain event of its own; a short poll runs only while a socket is congested.
    while (!this.closed && this.ws.bufferedAmount > SEND_HIGH_WATER_BYTES / 2) {
      await sleep(10);
    }
  }

  ended(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.jobId) === subscription) {
      this.subscriptions.delete(subscription.jobId);
      this.deps.metrics.subscriptions.dec();
    }
  }

  onFeedFrame(owner: string, bytes: Buffer): void {
    if (maySee(this.principal, owner)) this.send(bytes);
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

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!this.bucket.take()) {
      this.refuseForRate();
      return;
    }
    this.queue = this.queue
      .then(() =>
        isBinary
          ? this.reply('bad_request', 'binary frames are not part of jobstream.v1; send JSON text')
          : this.handle(data),
      )
      .catch((error: unknown) => {
        this.deps.logger.error({ err: error, user: this.user }, 'frame handler failed');
        this.reply('unavailable', 'the frame could not be handled; try again');
      });
  }

  private refuseForRate(): void {
    const now = Date.now();
    if (now - this.windowStartedAt > FLOOD_CLOSE.windowMs) {
      this.windowStartedAt = now;
      this.refusedInWindow = 0;
    }
    this.refusedInWindow++;
    this.deps.metrics.rejections.inc({ reason: 'rate_limited' });
    if (this.refusedInWindow >= FLOOD_CLOSE.refused) {
      this.deps.logger.warn({ user: this.user }, 'closing a socket that kept flooding');
      // Said now, not queued behind the flood's own frames: the socket closes right after.
      this.reply('rate_limited', 'still flooding after rate_limited; closing');
      this.close(CLOSE_CODES.policyViolation, 'rate limit exceeded');
      return;
    }
    // One error frame per second at most: a flood must not be answered with a flood.
    if (now - this.lastRateErrorAt >= 1000) {
      this.lastRateErrorAt = now;
      if (this.refusedInWindow === 1) this.deps.logger.info({ user: this.user }, 'rate limited');
      this.queue = this.queue.then(() =>
        this.reply(
          'rate_limited',
          `more than ${FRAME_RATE.perSecond} frames a second; frames are being dropped`,
        ),
      );
    }
  }

  private async handle(data: RawData): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(rawText(data));
    } catch {
      return this.reply('bad_request', 'a frame is one JSON object');
    }
    const parsed = clientFrameSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      const jobId =
        typeof (json as { jobId?: unknown })?.jobId === 'string'
          ? (json as { jobId: string }).jobId
          : undefined;
      this.deps.metrics.rejections.inc({ reason: 'bad_request' });
      return this.reply('bad_request', `${where}${issue?.message ?? 'invalid frame'}`, jobId);
    }
    return this.dispatch(parsed.data);
  }

  private async dispatch(frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'subscribe':
        return this.subscribe(frame.jobId, frame.since, frame.tail);
      case 'unsubscribe': {
        const subscription = this.subscriptions.get(frame.jobId);
        if (subscription) {
          subscription.close();
          this.ended(subscription);
        }
        return;
      }
      case 'watch':
        if (!this.watchingFeed) {
          this.watchingFeed = true;
          await this.deps.fanout.watchFeed(this);
        }
        return;
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
    if (this.subscriptions.has(jobId)) return; // subscribing again changes nothing
    if (this.subscriptions.size >= this.deps.maxSubscriptions) {
      this.deps.metrics.rejections.inc({ reason: 'too_many_subscriptions' });
      return this.reply(
        'too_many_subscriptions',
        `at most ${this.deps.maxSubscriptions} subscriptions per socket`,
        jobId,
      );
    }
    const subscription = new Subscription(jobId, this, this.deps);
    this.subscriptions.set(jobId, subscription);
    this.deps.metrics.subscriptions.inc();
    let refusal;
    try {
      refusal = await subscription.open({ since, tail });
    } catch (error) {
      subscription.close();
      this.ended(subscription);
      throw error;
    }
    if (refusal) {
      this.ended(subscription);
      this.deps.metrics.rejections.inc({ reason: refusal.code });
      this.sendFrame(refusal);
      return;
    }
    subscription.start();
  }

  private replaceToken(token: string): void {
    let principal: Principal;
    try {
      principal = verifyToken(token, this.deps.jwt);
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
    this.armExpiry();
  }

  private reply(code: ErrorCode, message: string, jobId?: string): void {
    this.sendFrame(
      jobId === undefined ? { type: 'error', code, message } : { type: 'error', jobId, code, message },
    );
  }

  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const remaining = this.principal.expiresAt - Date.now();
    this.expiryTimer = setTimeout(
      () => {
        if (this.principal.expiresAt > Date.now()) this.armExpiry();
        else this.close(CLOSE_CODES.tokenExpired, 'token expired');
      },
      Math.min(Math.max(remaining, 0), MAX_TIMER_MS),
    );
    this.expiryTimer.unref();
  }

  private cleanUp(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    for (const subscription of this.subscriptions.values()) subscription.close();
    this.deps.metrics.subscriptions.dec(this.subscriptions.size);
    this.subscriptions.clear();
    if (this.watchingFeed) this.deps.fanout.unwatchFeed(this);
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
