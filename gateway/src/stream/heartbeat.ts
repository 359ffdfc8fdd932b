/**
 * Dead-socket detection (the `ws` README recipe, with patience): every `intervalMs` each socket
 * is pinged at the protocol level; one that has answered none of the last two pings — silent for
 * two whole intervals — is terminated. A reader may stall for a while and come back; a socket that
 * stays silent that long is gone, and its subscriptions with it.
 */
import { MAX_UNANSWERED_PINGS } from '../limits.js';
export interface HeartbeatTarget {
  /** Pings sent since the last pong. */
  unansweredPings: number;
  ping(): void;
  terminate(): void;
}

export function startHeartbeat(targets: () => Iterable<HeartbeatTarget>, intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const target of targets()) {
      if (target.unansweredPings >= MAX_UNANSWERED_PINGS) {
        target.terminate();
        continue;
      }
      target.unansweredPings++;
      target.ping();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
