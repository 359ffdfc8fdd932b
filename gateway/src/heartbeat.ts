/**
 * Dead-socket detection (the `ws` README recipe): every `intervalMs`, a socket that did not
 * answer the previous protocol-level ping is terminated, and every other one is pinged again.
 */
export interface HeartbeatTarget {
  alive: boolean;
  ping(): void;
  terminate(): void;
}

export function startHeartbeat(targets: () => Iterable<HeartbeatTarget>, intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const target of targets()) {
      if (!target.alive) {
        target.terminate();
        continue;
      }
      target.alive = false;
      target.ping();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
