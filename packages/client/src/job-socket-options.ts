/** How a JobSocket (job-socket.ts) is configured, and its defaults. */
import type { Backoff } from '../../../shared/backoff.js';
import { DEFAULT_MAX_LINES } from './line-store.js';

export interface JobSocketOptions {
  url: string;
  getToken: () => string | null;
  /** Called ahead of the token's expiry; resolve with a fresh token (or null: let it expire). */
  refreshToken?: () => Promise<string | null>;
  /**
   * After connects keep failing: whether the server refuses the token. A browser cannot see a
   * refused handshake's 401, so this asks once over HTTP; 'refused' brings up sign-in
   * (refreshToken) instead of reconnecting for ever with a token that will never work.
   */
  checkToken?: () => Promise<'refused' | 'accepted' | 'unreachable'>;
  maxLines?: number;
  createSocket?: (url: string, protocols: string[]) => WebSocket;
  backoff?: Backoff;
  pingIntervalMs?: number;
  random?: () => number;
}

export type ResolvedOptions = Required<Omit<JobSocketOptions, 'refreshToken' | 'checkToken'>> &
  Pick<JobSocketOptions, 'refreshToken' | 'checkToken'>;

export function withDefaults(options: JobSocketOptions): ResolvedOptions {
  return {
    maxLines: DEFAULT_MAX_LINES,
    createSocket: (url, protocols) => new WebSocket(url, protocols),
    backoff: { initialMs: 500, maxMs: 30_000 },
    // A dead path (laptop lid, lost Wi-Fi) shows within two intervals, ~10 s.
    pingIntervalMs: 5_000,
    random: Math.random,
    ...options,
  };
}
