/**
 * The peer most teams would reach for: Socket.IO 4 with the Redis adapter, set up as its
 * documentation recommends (https://socket.io/docs/v4/redis-adapter/): one room per job, messages
 * published from outside through `@socket.io/redis-emitter` (`emitter.to(jobId).emit(...)`), and
 * Socket.IO framing each broadcast once (engine.io's pre-encoded frames). WebSocket transport
 * only, as the load generator speaks it, and no auth, no history, no replay: what the gateway
 * does on top is what it is measured for.
 * A socket joins the rooms named in its handshake query: `/socket.io/?EIO=4&transport=websocket&jobs=a,b`.
 * Usage: node --import tsx scripts/bench/peers/socketio.ts <port> <redis-url>; prints `ready`
 * when listening.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 0);
const pubClient = new Redis(process.argv[3] ?? 'redis://127.0.0.1:6379');
const subClient = pubClient.duplicate();
// Connected first: a PSUBSCRIBE queued before ioredis's ready check makes that check fail.
await Promise.all([once(pubClient, 'ready'), once(subClient, 'ready')]);
const server = createServer();
const io = new Server(server, {
  transports: ['websocket'],
  adapter: createAdapter(pubClient, subClient),
});
io.on('connection', (socket) => {
  const jobs = socket.handshake.query.jobs;
  void socket.join(typeof jobs === 'string' ? jobs.split(',') : []);
});
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
