/**
 * The tab's token: taken from the address's `#token=<jwt>` fragment (then removed from the
 * address bar), kept in session storage for the tab, never in a cookie.
 */
import type { Role } from '../../shared/protocol.js';
import { jwtClaims } from './jwt.js';

const KEY = 'jobstream.token';

export function adoptTokenFromFragment(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return;
  sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
  const rest = window.location.hash.replace(/(^#|&)token=[^&]+/, '').replace(/^#?&?/, '');
  history.replaceState(
    null,
    '',
    `${window.location.pathname}${window.location.search}${rest ? `#${rest}` : ''}`,
  );
}

export const getToken = (): string | null => sessionStorage.getItem(KEY);
export const setToken = (token: string): void => sessionStorage.setItem(KEY, token);
export const clearToken = (): void => sessionStorage.removeItem(KEY);

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
