/**
 * Authentication at the HTTP upgrade, before any WebSocket exists (the `ws` README recipe):
 * origin (403) → subprotocol `jobstream.v1` offered (400) → token (401) → sockets per user (429).
 * A refused upgrade gets a plain HTTP answer with a JSON body and the TCP socket is destroyed.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BEARER_SUBPROTOCOL_PREFIX, PROTOCOL, type ErrorCode } from '../../../shared/protocol.js';
import { AuthError, bearerToken, verifyToken, type Principal } from './principal.js';
import type { GatewayConfig } from '../ops/config.js';

export type UpgradeDecision =
  | { ok: true; principal: Principal }
  | { ok: false; status: 400 | 401 | 403 | 404 | 429; code: ErrorCode; message: string };

function offeredSubprotocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  return (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

export function decideUpgrade(
  request: IncomingMessage,
  config: Pick<GatewayConfig, 'allowedOrigins' | 'jwt' | 'maxSocketsPerUser'>,
  socketsOf: (sub: string) => number,
  now = Date.now(),
): UpgradeDecision {
  const path = (request.url ?? '').split('?')[0];
  if (path !== '/ws')
    return { ok: false, status: 404, code: 'not_found', message: 'the WebSocket endpoint is /ws' };
  const origin = request.headers.origin;
  if (config.allowedOrigins && origin !== undefined && !config.allowedOrigins.includes(origin)) {
    return { ok: false, status: 403, code: 'forbidden', message: `origin ${origin} is not allowed` };
  }
  const protocols = offeredSubprotocols(request);
  if (!protocols.includes(PROTOCOL)) {
    return { ok: false, status: 400, code: 'bad_request', message: `offer the subprotocol ${PROTOCOL}` };
  }
  const token =
    bearerToken(request.headers.authorization) ??
    protocols.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX))?.slice(BEARER_SUBPROTOCOL_PREFIX.length) ??
    null;
  if (!token) return { ok: false, status: 401, code: 'unauthorized', message: 'a token is required' };
  let principal: Principal;
  try {
    principal = verifyToken(token, config.jwt, now);
  } catch (error) {
    return {
      ok: false,
      status: 401,
      code: 'unauthorized',
      message: error instanceof AuthError ? error.message : 'invalid token',
    };
  }
  if (config.maxSocketsPerUser > 0 && socketsOf(principal.sub) >= config.maxSocketsPerUser) {
    return {
      ok: false,
      status: 429,
      code: 'rate_limited',
      message: `at most ${config.maxSocketsPerUser} sockets per user`,
    };
  }
  return { ok: true, principal };
}

export function refuseUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
