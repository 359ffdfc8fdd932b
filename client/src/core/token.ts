/**
 * The tab's token, with no React in it: taken from the address's `#token=<jwt>` fragment (then
 * removed from the address bar), kept in local storage for the origin (docs/protocol.md "Dashboard
 * addresses": a job opened in a new tab is signed in too; signing out clears it), never in a
 * cookie; and its claims, read without verifying them — the gateway verifies; the browser only
 * needs to know who it is signed in as and when to ask for a new token.
 */
import type { Role } from '../../../shared/protocol.js';

const KEY = 'jobstream.token';

export function adoptTokenFromFragment(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return;
  localStorage.setItem(KEY, decodeURIComponent(match[1]));
  const rest = window.location.hash.replace(/(^#|&)token=[^&]+/, '').replace(/^#?&?/, '');
  history.replaceState(
    null,
    '',
    `${window.location.pathname}${window.location.search}${rest ? `#${rest}` : ''}`,
  );
}

export const getToken = (): string | null => localStorage.getItem(KEY);
export const setToken = (token: string): void => localStorage.setItem(KEY, token);
export const clearToken = (): void => localStorage.removeItem(KEY);

/** Calls `onChange` when another tab of the origin signs in, renews its token or signs out. */
export function onTokenChangedElsewhere(onChange: () => void): () => void {
  const listener = (event: StorageEvent) => {
    if (event.key === KEY || event.key === null) onChange();
  };
  window.addEventListener('storage', listener);
  return () => window.removeEventListener('storage', listener);
}

export interface Claims {
  sub: string;
  role: Role;
  exp: number;
}

export function claims(token: string | null): Claims | null {
  const payload = token ? jwtClaims(token) : null;
  if (typeof payload?.sub !== 'string' || typeof payload.exp !== 'number') return null;
  return { sub: payload.sub, role: payload.role === 'admin' ? 'admin' : 'user', exp: payload.exp };
}

function jwtClaims(token: string): Record<string, unknown> | null {
  try {
    const payload = token.split('.')[1];
    if (!payload) return null;
    const claims: unknown = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
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
