/**
 * The least a relay can do, as a baseline for the gateway's benchmark: Redis pub/sub message →
 * `send` to the set of sockets of that channel. No auth, no protocol, no JSON, no replay.
 * A socket watches the jobs named in its URL: `/?jobs=a,b`.
 * Usage: node --import tsx scripts/bench/peers/bare-relay.ts <port> <redis-url>; prints `ready`
 * when listening.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.argv[2] ?? 0);
const redis = new Redis(process.argv[3] ?? 'redis://127.0.0.1:6379');
// Connected first: a SUBSCRIBE queued before ioredis's ready check can make that check fail
// ("Connection in subscriber mode"), and the socket's jobs would stay deaf.
await once(redis, 'ready');
const channels = new Map<string, Set<WebSocket>>();
redis.on('messageBuffer', (channel: Buffer, message: Buffer) => {
  const sockets = channels.get(channel.toString());
  if (sockets) for (const ws of sockets) ws.send(message, { binary: false });
});
const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws, request) => {
  const jobs = (new URL(request.url ?? '/', 'http://relay').searchParams.get('jobs') ?? '').split(',');
  const joined = jobs.map((job) => {
    const channel = `job:{${job}}:events`;
    let sockets = channels.get(channel);
    if (!sockets) {
      channels.set(channel, (sockets = new Set()));
      void redis.subscribe(channel);
    }
    sockets.add(ws);
    return sockets;
  });
  ws.on('close', () => joined.forEach((sockets) => sockets.delete(ws)));
});
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
