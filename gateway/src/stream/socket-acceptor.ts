/**
 * Where sockets come in: the HTTP server's `upgrade`, answered before any WebSocket exists (a
 * refused upgrade is an HTTP status with a JSON body, auth/upgrade-auth.ts), the per-user socket
 * quota reserved at once so a storm of upgrades cannot pass it, then the `ws` handshake, the
 * session, and `hello` in the same write as the 101.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { PROTOCOL, type HelloFrame } from '../../../shared/protocol.js';
import { decideUpgrade, refuseUpgrade } from '../auth/upgrade-auth.js';
import type { Clock } from '../auth/token-expiry.js';
import { burstFrames, FRAMES_PER_SECOND } from '../limits.js';
import type { GatewayConfig } from '../ops/config.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { encodeFrame } from './frames.js';
import { Session, type SessionDeps } from './session.js';
import { SessionSocket } from './session-socket.js';
import type { SocketQuota } from './socket-quota.js';

export interface AcceptorDeps {
  config: GatewayConfig;
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Why no socket is accepted now (shutting down), or null. */
  refusing(): string | null;
  /** Open sockets per user, shared with the HTTP streams (both count toward MAX_SOCKETS_PER_USER). */
  quota: SocketQuota;
}

/** An upgrading socket's errors end in 'close', which is handled; one function for every socket. */
function ignoreSocketError(): void {}

export class SocketAcceptor {
  /** Every open session. */
  readonly sessions = new Set<Session>();
  private readonly quota: SocketQuota;
  private readonly wss: WebSocketServer;
  private readonly helloBytes: string;
  private readonly sessionDeps: SessionDeps;

  constructor(
    private readonly deps: AcceptorDeps,
    sessionDeps: Omit<SessionDeps, 'closed'>,
  ) {
    const { config } = deps;
    this.quota = deps.quota;
    this.wss = new WebSocketServer({
      WebSocket: SessionSocket,
      noServer: true,
      maxPayload: config.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    const hello: HelloFrame = {
      type: 'hello',
      protocol: PROTOCOL,
      heartbeatMs: config.heartbeatMs,
      limits: {
        maxSubscriptions: config.maxSubscriptions,
        maxFrameBytes: config.maxFrameBytes,
        framesPerSecond: FRAMES_PER_SECOND,
        burstFrames: burstFrames(config.maxSubscriptions),
      },
    };
    this.helloBytes = encodeFrame(hello);
    this.sessionDeps = {
      ...sessionDeps,
      closed: (session: Session) => {
        this.sessions.delete(session);
        this.quota.remove(session.principal.sub);
        deps.metrics.sockets.set(this.sessions.size);
      },
    };
  }

  /** The HTTP server's 'upgrade' listener. */
  readonly upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const { config, clock, metrics, logger } = this.deps;
    socket.on('error', ignoreSocketError);
    const refusing = this.deps.refusing();
    if (refusing) {
      refuseUpgrade(socket, 503, 'unavailable', refusing);
      return;
    }
    const decision = decideUpgrade(request, config, (sub) => this.quota.count(sub), clock.now());
    if (!decision.ok) {
      metrics.rejections.inc({ reason: `upgrade_${decision.status}` });
      logger.info(
        { status: decision.status, reason: decision.message, origin: request.headers.origin },
        'upgrade refused',
      );
      refuseUpgrade(socket, decision.status, decision.code, decision.message);
      return;
    }
    const { principal } = decision;
    this.quota.add(principal.sub); // reserved now, so a storm of upgrades cannot pass the cap
    // ws destroys the socket itself when the handshake is invalid: give the reservation back.
    // Once accepted, the session returns it (sessionDeps.closed).
    const giveBack = (): void => this.quota.remove(principal.sub);
    socket.once('close', giveBack);
    this.sessionDeps.writes.holdStream(socket); // the 101 and `hello` in one write
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      socket.off('close', giveBack);
      this.sessions.add(new Session(ws as SessionSocket, principal, this.sessionDeps));
      metrics.sockets.set(this.sessions.size);
      ws.send(this.helloBytes);
    });
  };
}
