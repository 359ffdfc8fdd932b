/**
 * Dead-socket detection (the `ws` README recipe, with patience): every `intervalMs` each socket
 * is pinged at the protocol level; one that has answered none of the last two pings — silent for
 * two whole intervals — is terminated. A reader may stall for a while and come back; a socket that
 * stays silent that long is gone, and its subscriptions with it.
 */
export interface HeartbeatTarget {
  /** Pings sent since the last pong. */
  unansweredPings: number;
  ping(): void;
  terminate(): void;
}

/** Pings left unanswered after which a socket is terminated. */
const MAX_UNANSWERED_PINGS = 2;

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
