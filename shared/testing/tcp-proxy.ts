/**
 * A TCP proxy for fault tests: forwards every connection to a target, and on `blackHole()` stops
 * forwarding on every connection it holds — in both directions, without closing them (no FIN, no
 * RST), as a dead network path or a hung peer would — while connections made afterwards work.
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

  private constructor(target: { host: string; port: number }) {
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

  static async start(target: { host: string; port: number }): Promise<BlackHoleProxy> {
    const proxy = new BlackHoleProxy(target);
    proxy.port = await proxy.listening;
    return proxy;
  }

  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

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
    client.on('data', (chunk) => link.silenced || upstream.write(chunk));
    upstream.on('data', (chunk) => link.silenced || client.write(chunk));
    const end = (): void => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('error', end).on('close', end);
  }
}
