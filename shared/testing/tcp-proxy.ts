/**
 * A TCP proxy for fault tests: forwards every connection to a target, and on `blackHole()` stops
 * forwarding on every connection it holds — in both directions, without closing them (no FIN, no
 * RST), as a dead network path or a hung peer would — while connections made afterwards work.
 * `silenceOnRequest(marker)` does the same to the next connection at the moment its client sends
 * `marker` (a command name): a Redis that passes a reconnect's handshake, then stops answering.
 * With `latencyMs`, every chunk is held that long in each direction: a slow link (order kept).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Link {
  client: Socket;
  upstream: Socket;
  silenced: boolean;
}

export class BlackHoleProxy {
  private readonly links = new Set<Link>();
  private readonly server: Server;
  private listening: Promise<number>;

  private constructor(
    target: { host: string; port: number },
    private readonly latencyMs: number,
  ) {
    this.server = createServer((client) => this.forward(client, connect(target.port, target.host)));
    this.listening = new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        const address = this.server.address();
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('the proxy has no port'));
      });
    });
  }

  static async start(
    target: { host: string; port: number },
    { latencyMs = 0 }: { latencyMs?: number } = {},
  ): Promise<BlackHoleProxy> {
    const proxy = new BlackHoleProxy(target, latencyMs);
    proxy.port = await proxy.listening;
    return proxy;
  }

  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * The next connection whose client sends `marker` (matched case-insensitively within one chunk)
   * goes silent from that chunk on, which is dropped with everything after it. Once only.
   */
  silenceOnRequest(marker: string): void {
    this.silenceMarker = marker.toLowerCase();
  }

  private silenceMarker: string | null = null;

  /** Every connection held now goes silent; new ones are forwarded as before. Returns how many. */
  blackHole(): number {
    let count = 0;
    for (const link of this.links) {
      if (!link.silenced) count++;
      link.silenced = true;
    }
    return count;
  }

  async stop(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: Socket, upstream: Socket): void {
    const link: Link = { client, upstream, silenced: false };
    this.links.add(link);
    // Once silenced, bytes are dropped, not queued: they never arrive.
    client.on('data', (chunk: Buffer) => {
      if (
        this.silenceMarker !== null &&
        chunk.toString('latin1').toLowerCase().includes(this.silenceMarker)
      ) {
        link.silenced = true;
        this.silenceMarker = null; // once: the connection made to replace it works
      }
      if (!link.silenced) this.pass(chunk, upstream);
    });
    upstream.on('data', (chunk: Buffer) => link.silenced || this.pass(chunk, client));
    const end = (): void => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('error', end).on('close', end);
  }

  /** Timers of one delay fire in the order they were set: a delayed stream keeps its order. */
  private pass(chunk: Buffer, to: Socket): void {
    if (this.latencyMs === 0) to.write(chunk);
    else setTimeout(() => to.destroyed || to.write(chunk), this.latencyMs);
  }
}
