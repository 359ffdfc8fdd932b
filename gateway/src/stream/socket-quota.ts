/**
 * Open sockets per user (`MAX_SOCKETS_PER_USER`). A socket is counted from the moment its
 * upgrade is accepted — before the handshake completes — so a storm of upgrades cannot slip past
 * the cap, and uncounted when it closes or its handshake fails.
 */
export class SocketQuota {
  private readonly open = new Map<string, number>();

  /** Sockets `sub` holds now. */
  count(sub: string): number {
    return this.open.get(sub) ?? 0;
  }

  add(sub: string): void {
    this.open.set(sub, this.count(sub) + 1);
  }

  remove(sub: string): void {
    const next = this.count(sub) - 1;
    if (next <= 0) this.open.delete(sub);
    else this.open.set(sub, next);
  }
}
