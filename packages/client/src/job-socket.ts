/**
 * The one WebSocket of a browser tab, with no React in it.
 *
 * - Authenticates with the `bearer.<jwt>` subprotocol (browsers cannot set headers).
 * - Reference-counts subscriptions: any number of views may ask for a job; the server hears one
 *   `subscribe` and, when the last view lets go, one `unsubscribe`.
 * - Reconnects with exponential backoff and jitter, and resubscribes every job with `since` = the
 *   last seq it holds, so a reconnect shows no duplicate and no hole.
 * - Asks its host for a fresh token before the current one expires and sends it in an `auth`
 *   frame; a socket closed for an expired token waits for one instead of reconnecting blindly.
 * - Detects a dead connection with `ping`/`pong` frames (browsers cannot see protocol pings).
 * - Retries a refused subscribe by itself: `rate_limited` after its `retryAfterMs`, `unavailable`
 *   with backoff; a socket closed for flooding (1008) reconnects after a longer backoff. It never
 *   gives up for good, and every view keeps its position.
 */
import { backoffDelay } from '../../../shared/backoff.js';
import { encodeClientFrame } from '../../../shared/frame-peek.js';
import type { Job } from '../../../shared/job.js';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  CLOSE_CODES,
  PROTOCOL,
  type ClientFrame,
  type ServerFrame,
} from '../../../shared/protocol.js';
import { ConnectionTimers } from './connection-timers.js';
import { HeldJob, isRetried, type JobEvent, type JobView } from './held-job.js';
import { LineStore } from './line-store.js';
import { withDefaults, type JobSocketOptions, type ResolvedOptions } from './job-socket-options.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'offline';

/** Failed connects in a row after which the token itself is checked over HTTP. */
const FAILED_CONNECTS_BEFORE_TOKEN_CHECK = 3;

/** After a close for flooding (1008), the first reconnect waits at least this long. */
const POLICY_CLOSE_MIN_DELAY_MS = 5000;

export class JobSocket {
  private ws: WebSocket | null = null;
  private state: ConnectionState = 'offline';
  private readonly jobs = new Map<string, HeldJob>();
  private readonly feedListeners = new Set<(job: Job) => void>();
  private readonly feedReadyListeners = new Set<() => void>();
  private readonly stateListeners = new Set<() => void>();
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly timers = new ConnectionTimers();
  private closedByUser = false;
  private readonly options: ResolvedOptions;
  /** Connects in a row that closed before the server said hello. */
  private failedConnects = 0;

  constructor(options: JobSocketOptions) {
    this.options = withDefaults(options);
  }

  // ---- connection ----------------------------------------------------------------------------

  connect(): void {
    this.closedByUser = false;
    if (this.ws) return;
    const token = this.options.getToken();
    if (!token) {
      this.setState('offline');
      return;
    }
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const ws = this.options.createSocket(this.options.url, [
      PROTOCOL,
      `${BEARER_SUBPROTOCOL_PREFIX}${token}`,
    ]);
    this.ws = ws;
    ws.onmessage = (event) => this.receive(String(event.data));
    ws.onclose = (event) => this.closed(ws, event.code);
    ws.onerror = () => undefined; // onclose follows
  }

  /** Reconnect now (the "Retry" button), skipping the backoff wait. */
  retry(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.attempt = 0;
    this.ws?.close();
    this.ws = null;
    this.connect();
  }

  close(): void {
    this.closedByUser = true;
    this.stopTimers();
    this.ws?.close(CLOSE_CODES.normal);
    this.ws = null;
    this.setState('offline');
  }

  getState = (): ConnectionState => this.state;

  onStateChange = (listener: () => void): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };

  /** Replaces the token on the open socket (and for later reconnects, through getToken). */
  sendToken(token: string): void {
    this.send({ type: 'auth', token });
    this.scheduleRefresh(token);
  }

  // ---- subscriptions -------------------------------------------------------------------------

  /**
   * Holds a job open; returns the release. Several holders share one server subscription. `tail`:
   * the lines this holder shows at most (a first look asks for the largest of the holders').
   * `since`: start after this seq instead (a program that wants every line asks for `since: 0`).
   */
  hold(jobId: string, { tail, since }: { tail?: number; since?: number } = {}): () => void {
    let entry = this.jobs.get(jobId);
    if (!entry) {
      entry = new HeldJob(this.options.maxLines);
      entry.startAfter = since;
      this.jobs.set(jobId, entry);
    }
    entry.firstLook =
      tail === undefined || (entry.refs > 0 && entry.firstLook === 0) ? 0 : Math.max(entry.firstLook, tail);
    entry.refs++;
    if (entry.refs === 1 && this.state === 'open') this.subscribe(jobId, entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(jobId);
    };
  }

  store(jobId: string): LineStore | null {
    return this.jobs.get(jobId)?.store ?? null;
  }

  view(jobId: string): JobView | null {
    return this.jobs.get(jobId)?.view ?? null;
  }

  onJobChange(jobId: string, listener: () => void): () => void {
    const entry = this.jobs.get(jobId);
    entry?.listeners.add(listener);
    return () => entry?.listeners.delete(listener);
  }

  /**
   * Every frame of a held job as it comes, for a program that prints them (the CLI) rather than
   * renders a window of them: `output` carries only lines never heard before, in order.
   */
  onJobEvent(jobId: string, listener: (event: JobEvent) => void): () => void {
    const entry = this.jobs.get(jobId);
    entry?.eventListeners.add(listener);
    return () => entry?.eventListeners.delete(listener);
  }

  /**
   * Watches the jobs feed; returns the release. `watch` sends no snapshot, so a page lists jobs
   * over HTTP; `onFeedReady` tells it when to (re)list: when the watch is in effect (`watching`,
   * after connecting and after every reconnect), from when a list fetched over HTTP can no longer
   * miss a change, and when the gateway says it may have missed feed changes (a feed `gap`).
   */
  watchJobs(listener: (job: Job) => void): () => void {
    this.feedListeners.add(listener);
    if (this.feedListeners.size === 1) this.sendWatch();
    return () => {
      this.feedListeners.delete(listener);
      if (this.feedListeners.size === 0) this.send({ type: 'unwatch', topic: 'jobs' });
    };
  }

  onFeedReady(listener: () => void): () => void {
    this.feedReadyListeners.add(listener);
    return () => this.feedReadyListeners.delete(listener);
  }

  private sendWatch(): void {
    if (!this.ws || this.ws.readyState !== 1) return; // sent again once open
    this.send({ type: 'watch', topic: 'jobs' });
  }

  /** The feed is in effect, or may have missed changes: every list is fetched again. */
  private feedLagged(): void {
    for (const listener of this.feedReadyListeners) listener();
  }

  private release(jobId: string): void {
    const entry = this.jobs.get(jobId);
    if (!entry) return;
    entry.refs--;
    if (entry.refs > 0) return;
    this.jobs.delete(jobId);
    entry.cancelRetry();
    if (entry.active) this.send({ type: 'unsubscribe', jobId });
  }

  private subscribe(jobId: string, entry: HeldJob): void {
    if (entry.view.done) return; // finished: nothing more will come
    entry.cancelRetry();
    entry.active = true;
    // Resume after the last seq held; a first look needs no more than the view keeps.
    this.send(entry.subscribeFrame(jobId));
  }

  // ---- frames --------------------------------------------------------------------------------

  private send(frame: ClientFrame): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(encodeClientFrame(frame));
  }

  private receive(data: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'hello':
        this.opened(frame.heartbeatMs);
        return;
      case 'pong':
        this.timers.pongReceived();
        return;
      case 'watching':
        this.feedLagged();
        return;
      case 'job':
        for (const listener of this.feedListeners) listener(frame.job);
        return;
      case 'error': {
        const jobId = frame.jobId;
        if (jobId === undefined) return;
        const entry = this.jobs.get(jobId);
        entry?.refused(frame, this.options.backoff, this.options.random, () => {
          if (this.jobs.get(jobId) === entry && this.state === 'open') this.subscribe(jobId, entry);
        });
        entry?.emit({ ...frame, jobId, retrying: isRetried(frame.code) });
        return;
      }
      case 'gap':
        if ('topic' in frame) this.feedLagged();
        else this.jobs.get(frame.jobId)?.receive(frame);
        return;
      case 'status':
      case 'output':
      case 'done':
      case 'progress':
        this.jobs.get(frame.jobId)?.receive(frame);
        return;
    }
  }

  private opened(heartbeatMs: number): void {
    this.attempt = 0;
    this.failedConnects = 0;
    this.setState('open');
    for (const [jobId, entry] of this.jobs) this.subscribe(jobId, entry);
    if (this.feedListeners.size > 0) this.sendWatch();
    this.timers.startPing(
      Math.min(heartbeatMs, this.options.pingIntervalMs),
      (id) => this.send({ type: 'ping', id }),
      () => {
        // No answer within a whole interval: the connection is dead even if the browser has not noticed.
        this.ws?.close(CLOSE_CODES.noPong, 'no pong');
        if (this.ws) this.closed(this.ws, CLOSE_CODES.abnormal);
      },
    );
    const token = this.options.getToken();
    if (token) this.scheduleRefresh(token);
  }

  private closed(ws: WebSocket, code: number): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.stopTimers();
    for (const entry of this.jobs.values()) {
      entry.active = false;
      entry.cancelRetry();
    }
    if (this.closedByUser) return;
    if (code === CLOSE_CODES.tokenExpired) {
      return this.signInAgain(); // reconnecting with the same token would fail
    }
    if (this.state !== 'open') this.failedConnects++;
    if (this.failedConnects === FAILED_CONNECTS_BEFORE_TOKEN_CHECK && this.options.checkToken) {
      void this.options.checkToken().then((verdict) => {
        if (verdict !== 'refused' || this.ws || this.closedByUser) return;
        // The server will never take this token (a restarted gateway with a new secret, a
        // revoked user): sign in again rather than retry for ever.
        if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this.signInAgain();
      });
    }
    // Every other close reconnects, with backoff; after a close for flooding, a longer one.
    this.setState('reconnecting');
    let delay = backoffDelay(this.options.backoff, this.attempt, this.options.random);
    if (code === CLOSE_CODES.policyViolation) delay = Math.max(delay, POLICY_CLOSE_MIN_DELAY_MS);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** Offline until a new token comes (refreshToken), then connects with it. */
  private signInAgain(): void {
    this.setState('offline');
    void this.options.refreshToken?.().then((token) => token && this.retry());
  }

  private scheduleRefresh(token: string): void {
    const { refreshToken } = this.options;
    if (!refreshToken) return;
    this.timers.scheduleRefresh(
      token,
      () => void refreshToken().then((fresh) => fresh && this.sendToken(fresh)),
    );
  }

  private stopTimers(): void {
    this.timers.stop();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener();
  }
}
