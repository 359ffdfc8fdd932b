/**
 * Following jobs live from Node: the dashboard's own client core (`JobSocket`, packages/client)
 * on a `ws` WebSocket, so the CLI gets the same guarantees for free — one socket for every job,
 * a reconnect that resumes each job after the last line printed (none lost, none twice), refused
 * subscribes retried, the token renewed before it expires (and kept, when it came from `login`).
 */
import WebSocket from 'ws';
import {
  gatewaySocketUrl,
  JobSocket,
  renewSession,
  type ConnectionState,
  type Job,
  type JobEvent,
  type JobStatus,
} from '../../client/src/index.js';
import { updateSavedToken, type Credentials } from './credentials.js';
import { CliError, EXIT } from './exit-codes.js';
import { httpRequest } from '../../../shared/runner/http-request.js';
import type { Printer } from './terminal.js';

export interface JobEnd {
  status: JobStatus;
  lastSeq: number;
  job: Job | null;
}

interface Followed {
  resolve: (end: JobEnd) => void;
  reject: (error: Error) => void;
  job: Job | null;
  release: () => void;
  stopListening: () => void;
}

export class Follower {
  private readonly socket: JobSocket;
  private readonly followed = new Map<string, Followed>();
  private token: string;
  private closing = false;
  private lastState: ConnectionState = 'offline';

  constructor(
    private readonly credentials: Credentials,
    private readonly printer: Printer,
    { maxLines = 1000 }: { maxLines?: number } = {},
  ) {
    this.token = credentials.token;
    this.socket = new JobSocket({
      url: gatewaySocketUrl(credentials.url),
      getToken: () => this.token,
      refreshToken: () => this.renew(),
      checkToken: () => this.checkToken(),
      // ws speaks the browser's WebSocket interface (onmessage, onclose, readyState, send).
      createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as globalThis.WebSocket,
      maxLines,
    });
    this.socket.onStateChange(() => this.stateChanged());
  }

  /** The socket itself, for what a caller adds (the jobs feed of `watch --running`). */
  get jobSocket(): JobSocket {
    return this.socket;
  }

  connect(): void {
    this.socket.connect();
  }

  /**
   * Follows `jobId` until it ends: every frame to `onEvent` as it comes. Resolves with how it
   * ended; rejects when the gateway refuses it for good (not found, not signed in).
   */
  follow(
    jobId: string,
    position: { since?: number; tail?: number },
    onEvent: (event: JobEvent) => void,
  ): Promise<JobEnd> {
    return new Promise<JobEnd>((resolve, reject) => {
      const release = this.socket.hold(jobId, position);
      const entry: Followed = { resolve, reject, job: null, release, stopListening: () => undefined };
      entry.stopListening = this.socket.onJobEvent(jobId, (event) => {
        onEvent(event);
        this.heard(jobId, entry, event);
      });
      this.followed.set(jobId, entry);
    });
  }

  isFollowing(jobId: string): boolean {
    return this.followed.has(jobId);
  }

  close(): void {
    this.closing = true;
    for (const entry of this.followed.values()) entry.stopListening();
    this.followed.clear();
    this.socket.close();
  }

  private heard(jobId: string, entry: Followed, event: JobEvent): void {
    switch (event.type) {
      case 'status':
        entry.job = event.job;
        return;
      case 'done':
        this.settle(jobId, entry, () =>
          entry.resolve({ status: event.status, lastSeq: event.lastSeq, job: entry.job }),
        );
        return;
      case 'error':
        if (event.retrying) return; // the socket subscribes again by itself
        this.settle(jobId, entry, () =>
          entry.reject(
            event.code === 'not_found'
              ? new CliError(`job ${jobId} not found (or it is not yours)`, EXIT.notFound)
              : new CliError(
                  `the gateway refused job ${jobId}: ${event.message} (${event.code})`,
                  EXIT.failed,
                ),
          ),
        );
        return;
      default:
        return;
    }
  }

  private settle(jobId: string, entry: Followed, settle: () => void): void {
    this.followed.delete(jobId);
    entry.stopListening();
    entry.release();
    settle();
  }

  private failAll(error: CliError): void {
    for (const [jobId, entry] of this.followed) this.settle(jobId, entry, () => entry.reject(error));
  }

  private stateChanged(): void {
    const state = this.socket.getState();
    const was = this.lastState;
    this.lastState = state;
    if (this.closing) return;
    if (state === 'reconnecting' && was === 'open')
      this.printer.notice('lost the connection to the gateway; reconnecting (no line will be missed)');
    else if (state === 'open' && was === 'reconnecting') this.printer.notice('reconnected; resuming');
    else if (state === 'offline')
      this.failAll(
        new CliError(
          `the session ended and could not be renewed: sign in again with \`jobstream login ${this.credentials.url}\``,
          EXIT.notSignedIn,
        ),
      );
  }

  private async renew(): Promise<string | null> {
    const renewal = await renewSession(this.token, this.credentials.url);
    if ('refused' in renewal) return null;
    this.token = renewal.token;
    try {
      updateSavedToken(this.credentials, renewal.token);
    } catch (error) {
      // The renewed token still serves this run; the next command may need a login.
      this.printer.notice(`${(error as Error).message}; this run goes on`);
    }
    return renewal.token;
  }

  /** Asked after connects keep failing: does the gateway still take the token? */
  private async checkToken(): Promise<'refused' | 'accepted' | 'unreachable'> {
    try {
      const res = await httpRequest(`${this.credentials.url}/api/jobs?limit=1`, {
        headers: { authorization: `Bearer ${this.token}` },
        timeoutMs: 10_000,
      });
      if (res.status === 401) return 'refused';
      return res.status === 200 ? 'accepted' : 'unreachable';
    } catch {
      return 'unreachable';
    }
  }
}
