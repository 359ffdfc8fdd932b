/**
 * One socket's subscription to one job: the replay→live switch, without a hole or a repeat.
 *
 * The order of operations is what makes it lossless (the recovery pattern of Centrifugo):
 *   1. register with the fan-out and wait until Redis confirms the channel subscription, so that
 *      every line appended from now on reaches us; until we are live, such messages are buffered;
 *   2. read the job hash and the list length atomically: lines up to that `lastSeq` are in the
 *      list (or trimmed), lines after it will arrive on the channel;
 *   3. send `status`, a `gap` if the start was trimmed, then the replay in pages;
 *   4. go live: deliver the buffered messages, dropping every seq already sent (`nextSeq`).
 * `nextSeq` (the next seq owed to the client) is the only position; every send goes through it.
 *
 * The same loop catches up whenever live delivery cannot go on: the socket's send buffer is full
 * (a slow client must not make the gateway buffer without bound: we stop sending, and read what
 * it missed from the list once it drains), too many messages piled up during a replay, or the
 * Redis subscriber reconnected and pub/sub messages were lost. Lines the list no longer holds by
 * then are announced with a `gap` frame.
 *
 * Guarantee 5: while a subscription cannot send, it holds positions, not payloads. Live messages
 * are kept during a replay only while the socket drains and only up to MAX_PENDING_BYTES; past
 * that, they are dropped and the list is read again. A catch-up that fails on a Redis error is
 * retried with backoff for as long as the socket is open: a streaming subscription is not ended
 * by a Redis restart or failover (guarantee 7).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../../../shared/backoff.js';
import { isTerminal, type Job, type JobStatus } from '../../../shared/job.js';
import type { ErrorFrame, GapReason } from '../../../shared/protocol.js';
import { maySee } from '../auth/principal.js';
import type { JobListener } from './fanout.js';
import { errorFrame, notFoundFrame } from './frames.js';
import { ArchiveUnavailableError } from '../archive/errors.js';
import { SEND_HIGH_WATER_BYTES } from '../limits.js';
import { HeldMessages } from './held-messages.js';
import { outputFrameFromEntries, sliceOutputFrame, type ChannelMessage } from './output-frames.js';
import { replayPages, type ReplayTarget } from './replay.js';
import { readJobState } from '../redis/store.js';
import {
  startSeq,
  type SubscribeRequest,
  type SubscriberSocket,
  type SubscriptionDeps,
} from './subscriber-socket.js';

/** Backoff of a catch-up that failed on a Redis error (the subscription waits, it does not end). */
const CATCH_UP_RETRY = { initialMs: 100, maxMs: 5000 } as const;

type Phase = 'opening' | 'syncing' | 'live' | 'ended';

export class Subscription implements JobListener {
  private phase: Phase = 'opening';
  private nextSeq = 1;
  /** Replay reads the list up to here; later lines come from the channel. */
  private target = 0;
  /** Live messages that arrived while the replay reads the list. */
  private readonly held = new HeldMessages();
  private status: JobStatus = 'queued';
  /** The job's last seq once it is terminal: `done` follows it. */
  private finalSeq: number | null = null;
  private syncing = false;
  /** A status message was not sent (congested socket): the next catch-up sends the job's latest. */
  private statusOwed = false;
  /** A catch-up was asked for while one ran: re-read the job's state once it finishes. */
  private resyncAgain: GapReason | null = null;
  private replayStartedAt = 0;
  private replayedLines = 0;
  /** The job's owner, once opened: who may see it is checked again when the socket's token changes. */
  owner: string | null = null;

  private readonly replayTarget: ReplayTarget;

  constructor(
    readonly jobId: string,
    private readonly socket: SubscriberSocket,
    private readonly deps: SubscriptionDeps,
  ) {
    this.replayTarget = {
      congested: () => socket.bufferedAmount > SEND_HIGH_WATER_BYTES,
      drained: () => socket.drained(),
    };
  }

  /**
   * Steps 1 to 3 up to `status` (and `gap`). Resolves with an error frame when the job does not
   * exist or is someone else's (the same answer for both); then nothing was sent and nothing is
   * held. Rejects on a Redis error (the caller answers `unavailable`).
   */
  async open(request: SubscribeRequest): Promise<ErrorFrame | null> {
    this.replayStartedAt = performance.now();
    await this.deps.fanout.add(this.jobId, this);
    if (this.phase === 'ended') return null; // unsubscribed, timed out or socket closed meanwhile
    const state = await readJobState(this.deps.redis, this.jobId);
    if (this.hasEnded) return null;
    if (!state || !maySee(this.socket.principal, state.job.owner)) {
      this.release();
      return notFoundFrame(this.jobId);
    }
    const { job, firstRetained } = state;
    this.owner = job.owner;
    this.socket.sendFrame({ type: 'status', jobId: this.jobId, job });
    this.applyJob(job);
    this.target = job.lastSeq;
    this.nextSeq = startSeq(request, job.lastSeq);
    // With an archive, what Redis trimmed is read from there; the replay sends any gap it finds.
    if (this.nextSeq <= job.lastSeq && this.nextSeq < firstRetained && !this.deps.output.archived)
      this.sendGap(firstRetained, 'trimmed');
    this.phase = 'syncing';
    return null;
  }

  /** Step 3's replay and step 4. Runs in the background after `open`; never throws. */
  start(): void {
    if (this.phase !== 'syncing') return;
    void this.catchUp(null);
  }

  /** Its session stops it: no frame for this job is sent afterwards (`release` frees the rest). */
  stop(): void {
    if (this.phase === 'ended') return;
    this.release();
  }

  /** Stopped, or ended by itself: nothing more is sent. */
  get hasEnded(): boolean {
    return this.phase === 'ended';
  }

  // ---- JobListener ---------------------------------------------------------------------------

  onMessage(message: ChannelMessage): void {
    if (this.phase === 'live') {
      this.deliver(message);
      return;
    }
    // A progress line is for live watchers only: never replayed, never held (the line itself comes).
    if (this.phase === 'ended' || this.held.overflowed || message.kind === 'progress') return;
    // Kept only while it will be sent soon; else the list is the buffer (held-messages.ts).
    if (!this.held.hold(message, this.socket.bufferedAmount > SEND_HIGH_WATER_BYTES)) this.statusOwed = true; // a status may have been among what was dropped
  }

  onResync(): void {
    this.requestCatchUp('trimmed');
  }

  // ---- internals -----------------------------------------------------------------------------

  private release(): void {
    this.phase = 'ended';
    this.held.clear();
    this.deps.fanout.remove(this.jobId, this);
  }

  private applyJob(job: Pick<Job, 'status' | 'lastSeq'>): void {
    this.status = job.status;
    if (isTerminal(job.status)) this.finalSeq = job.lastSeq;
  }

  private sendGap(toExclusive: number, reason: GapReason): void {
    this.socket.sendFrame({
      type: 'gap',
      jobId: this.jobId,
      fromSeq: this.nextSeq,
      toSeq: toExclusive - 1,
      reason,
    });
    this.nextSeq = toExclusive;
  }

  /** Live delivery stopped (`reason` for any gap): read what was missed from Redis. */
  private requestCatchUp(reason: GapReason): void {
    if (this.phase === 'ended' || this.phase === 'opening') return;
    this.phase = 'syncing';
    if (this.syncing) {
      this.resyncAgain ??= reason;
      return;
    }
    void this.catchUp(reason);
  }

  /**
   * Replays from `nextSeq` to `target` and goes live. With a `reason`, first re-reads the job
   * (status may have changed, the target moved on) — the catch-up after live delivery stopped.
   * A Redis error does not end the subscription: the catch-up is retried with backoff.
   */
  private async catchUp(reason: GapReason | null): Promise<void> {
    this.syncing = true;
    try {
      let refresh = reason;
      for (let failures = 0; ;) {
        try {
          await this.catchUpOnce(refresh);
          break;
        } catch (error) {
          if (this.phase === 'ended') return;
          if (error instanceof ArchiveUnavailableError) {
            this.endUnavailable(error);
            return;
          }
          if (failures === 0)
            this.deps.logger.warn(
              { err: (error as Error).message, jobId: this.jobId, user: this.socket.principal.sub },
              'catch-up failed on a Redis error; retrying',
            );
          await sleep(backoffDelay(CATCH_UP_RETRY, failures++));
          if (this.hasEnded) return;
          refresh = refresh ?? 'lagged';
          this.held.overflowed = true; // what arrived meanwhile is re-read from the list
        }
      }
      if (this.replayStartedAt > 0 && this.phase !== 'ended') {
        this.deps.metrics.replaySeconds.observe((performance.now() - this.replayStartedAt) / 1000);
        this.deps.metrics.replayLines.observe(this.replayedLines);
        this.replayStartedAt = 0;
      }
    } finally {
      this.syncing = false;
    }
  }

  /**
   * Archived lines that cannot be read now (store down, chunk corrupt): the subscription ends with
   * `unavailable` and its job id, and the client subscribes again with `since` (never a gap:
   * the lines are not gone).
   */
  private endUnavailable(error: ArchiveUnavailableError): void {
    this.deps.logger.warn({ err: error.message, jobId: this.jobId }, 'replay stopped: archive unavailable');
    this.socket.sendFrame(errorFrame('unavailable', error.message, this.jobId));
    this.release();
    this.socket.subscriptionEnded(this);
  }

  private async catchUpOnce(reason: GapReason | null): Promise<void> {
    let refresh = reason;
    for (;;) {
      if (refresh !== null || this.held.overflowed) {
        // Nothing is read while the socket cannot take it: its position is all we keep.
        if (this.socket.bufferedAmount > SEND_HIGH_WATER_BYTES) await this.socket.drained();
        if (!(await this.refresh())) return;
      }
      await this.replayToTarget(refresh ?? 'trimmed');
      if (this.phase === 'ended') return;
      if (this.held.overflowed) continue;
      if (this.resyncAgain !== null) {
        refresh = this.resyncAgain;
        this.resyncAgain = null;
        continue;
      }
      this.goLive();
      if (this.phase !== 'syncing') return; // live or ended; syncing again means the socket lagged
      refresh = this.resyncAgain ?? 'lagged';
      this.resyncAgain = null;
    }
  }

  /** Re-reads the job before a catch-up. False when the job is gone (the subscription ends). */
  private async refresh(): Promise<boolean> {
    this.held.reset();
    const state = await readJobState(this.deps.redis, this.jobId);
    if (this.phase === 'ended') return false;
    if (!state) {
      // Expired under us (retention); existence is never revealed, so the answer is not_found.
      this.socket.sendFrame(notFoundFrame(this.jobId));
      this.release();
      this.socket.subscriptionEnded(this);
      return false;
    }
    if (state.job.status !== this.status || this.statusOwed) {
      this.socket.sendFrame({ type: 'status', jobId: this.jobId, job: state.job });
    }
    this.statusOwed = false;
    this.applyJob(state.job);
    this.target = state.job.lastSeq;
    return true;
  }

  private async replayToTarget(gapReason: GapReason): Promise<void> {
    // Never adds to a send buffer that is already full: replayPages waits for the client to
    // drain it, holding no page meanwhile.
    for await (const page of replayPages(
      this.deps.output,
      this.jobId,
      this.nextSeq,
      this.target,
      this.replayTarget,
    )) {
      if (this.hasEnded) return;
      if (page.fromSeq > this.nextSeq) this.sendGap(Math.min(page.fromSeq, this.target + 1), gapReason);
      if (page.entries.length === 0) {
        // Nothing left in the list up to the target (expired under us): the rest is a gap.
        if (this.nextSeq <= this.target) this.sendGap(this.target + 1, gapReason);
        return;
      }
      this.socket.send(outputFrameFromEntries(this.jobId, page.entries), page.entries.length);
      this.nextSeq = page.fromSeq + page.entries.length;
      this.replayedLines += page.entries.length;
    }
  }

  private goLive(): void {
    this.phase = 'live';
    const pending = this.held.takeAll();
    for (let i = 0; i < pending.length && this.phase === 'live'; i++) this.deliver(pending[i]!);
    if (this.phase === 'live') this.checkDone();
  }

  private deliver(message: ChannelMessage): void {
    if (message.kind === 'progress') {
      // Only right after the last line sent (older is stale; newer means lines are on their way),
      // and never queued for a congested socket: dropped instead, the next one replaces it.
      if (message.afterSeq === this.nextSeq - 1 && this.socket.bufferedAmount <= SEND_HIGH_WATER_BYTES)
        this.socket.sendPublished(message);
      return;
    }
    if (message.kind === 'status') {
      if (this.socket.bufferedAmount > SEND_HIGH_WATER_BYTES) {
        // A congested socket gets no queue of status frames: the latest one is read again
        // once it drains (with any lines it missed).
        this.statusOwed = true;
        this.requestCatchUp('lagged');
        return;
      }
      this.socket.sendPublished(message);
      this.status = message.status;
      if (isTerminal(this.status)) this.finalSeq = message.lastSeq;
      // A status is published after the lines it counts: one past what was delivered means
      // their messages were lost, and no further line would reveal the hole (the job ended).
      if (message.lastSeq >= this.nextSeq) this.requestCatchUp('trimmed');
      else this.checkDone();
      return;
    }
    if (message.lastSeq < this.nextSeq) return; // already sent by the replay
    if (message.firstSeq > this.nextSeq || this.socket.bufferedAmount > SEND_HIGH_WATER_BYTES) {
      // A hole (pub/sub lost messages) or a slow socket: read the rest from the list instead.
      this.requestCatchUp(message.firstSeq > this.nextSeq ? 'trimmed' : 'lagged');
      return;
    }
    const lines = message.lastSeq - this.nextSeq + 1;
    if (message.firstSeq === this.nextSeq) this.socket.sendPublished(message, lines);
    else this.socket.send(sliceOutputFrame(this.jobId, message, this.nextSeq), lines);
    this.nextSeq = message.lastSeq + 1;
  }

  private checkDone(): void {
    if (this.finalSeq === null || this.nextSeq <= this.finalSeq || this.phase !== 'live') return;
    this.socket.sendFrame({ type: 'done', jobId: this.jobId, status: this.status, lastSeq: this.finalSeq });
    this.release();
    this.socket.subscriptionEnded(this);
  }
}
