/**
 * What a subscription (subscription.ts) needs from outside: its socket, its dependencies, and
 * the position a `subscribe` asks for.
 */
import type { ServerFrame } from '../../../shared/protocol.js';
import type { RedisConnection } from '../../../shared/redis/client.js';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import type { Fanout } from './fanout.js';
import type { ChannelMessage } from './output-frames.js';
import type { Subscription } from './subscription.js';
import type { OutputReader } from '../archive/output-reader.js';

/**
 * What a subscription needs of its socket. Contract: `send`/`sendFrame` write one text frame and
 * never throw (after the socket closed they do nothing); frames go out in call order; an
 * `output` frame's lines are counted for the metrics. `bufferedAmount` is what the socket has not
 * yet handed to the kernel; `drained` resolves once it is below half the high-water mark, or the
 * socket closed. `subscriptionEnded` is called once when the subscription ends by itself (done,
 * not_found, unavailable), never after its socket stopped it (session.ts names the lifecycle).
 */
export interface SubscriberSocket {
  readonly principal: Principal;
  readonly bufferedAmount: number;
  /** Sends one text frame; `lines` counts output lines for the metrics. */
  send(data: string | Buffer, lines?: number): void;
  /** Sends a frame the gateway built. */
  sendFrame(frame: ServerFrame): void;
  /** Sends a published message as it is (framed once for every socket that gets it). */
  sendPublished(message: ChannelMessage, lines?: number): void;
  /** Resolves when the send buffer is below the high-water mark again (or the socket closed). */
  drained(): Promise<void>;
  /** The subscription ended by itself (done, or the job vanished). */
  subscriptionEnded(subscription: Subscription): void;
}

export interface SubscriptionDeps {
  redis: RedisConnection;
  /** Replay reads (Redis, and the archive below what Redis holds). */
  output: OutputReader;
  fanout: Fanout;
  metrics: GatewayMetrics;
  logger: Logger;
}

export interface SubscribeRequest {
  since?: number | undefined;
  tail?: number | undefined;
}

/** The first seq a subscription owes: 1, `since + 1`, or `max(1, lastSeq - tail + 1)`. */
export function startSeq(request: SubscribeRequest, lastSeq: number): number {
  if (request.since !== undefined) return request.since + 1;
  if (request.tail !== undefined) return Math.max(1, lastSeq - request.tail + 1);
  return 1;
}
