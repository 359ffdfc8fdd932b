/**
 * The tab's token, with no React in it: taken from the address's `#token=<jwt>` fragment (then
 * removed from the address bar), kept in local storage for the origin (docs/protocol.md "Dashboard
 * addresses": a job opened in a new tab is signed in too; signing out clears it), never in a
 * cookie. Its claims are read by the client core (packages/client, claims.ts).
 */

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
