/**
 * A token's claims, read without verifying them: the gateway verifies; a client only needs to
 * know who it is signed in as and when to ask for a new token.
 */
import { ROLES, type Role } from '../../../shared/protocol.js';

const isRole = (value: unknown): value is Role => (ROLES as readonly unknown[]).includes(value);

export interface Claims {
  sub: string;
  role: Role;
  exp: number;
}

export function claims(token: string | null): Claims | null {
  const payload = token ? jwtClaims(token) : null;
  if (typeof payload?.sub !== 'string' || typeof payload.exp !== 'number') return null;
  return { sub: payload.sub, role: isRole(payload.role) ? payload.role : 'user', exp: payload.exp };
}

function jwtClaims(token: string): Record<string, unknown> | null {
  try {
    const payload = token.split('.')[1];
    if (!payload) return null;
    const claims: unknown = JSON.parse(decodeBase64Url(payload));
    return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The `exp` of a JWT in ms (unverified: the server verifies). */
export function tokenExpiry(token: string): number | null {
  const exp = jwtClaims(token)?.exp;
  return typeof exp === 'number' ? exp * 1000 : null;
}

/** base64url to text, in a browser and in Node alike (atob is global in both). */
function decodeBase64Url(text: string): string {
  const bytes = Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}
