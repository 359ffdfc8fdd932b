/**
 * The dashboard: one QueryClient, one JobSocket for the tab, sign-in before anything else. Ahead
 * of the token's expiry the session is renewed silently (POST /api/session/refresh); only when
 * that is refused does a sign-in overlay ask for a token (the pages stay mounted, so every
 * subscription keeps its position) — except on the wall, which never covers itself: a banner
 * says it stopped updating and why.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { JobSocket, claims, renewSession } from '../../../packages/client/src/index.js';
import { clearToken, getToken, onTokenChangedElsewhere, setToken } from '../core/token.js';
import { SignInPage } from '../pages/SignInPage.js';
import { SocketContext } from '../react/socket-context.js';
import { Shell } from './Shell.js';

export function App() {
  const queryClient = useMemo(
    () => new QueryClient({ defaultOptions: { queries: { staleTime: 10_000, retry: 3 } } }),
    [],
  );
  const [signedIn, setSignedIn] = useState(() => (claims(getToken())?.exp ?? 0) * 1000 > Date.now());
  // Set while the socket waits for a fresh token: the sign-in form shows over the pages, which
  // stay mounted, so every subscription keeps its position and its lines.
  const [tokenWanted, setTokenWanted] = useState<((token: string) => void) | null>(null);
  const tokenWantedRef = useRef(tokenWanted);
  tokenWantedRef.current = tokenWanted;
  /** Why the wall's session could not be renewed (it shows a banner, never a sign-in form). */
  const [renewalRefused, setRenewalRefused] = useState<string | null>(null);
  const socket = useMemo(
    () =>
      new JobSocket({
        url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
        getToken,
        // Ahead of expiry (or after close 4001): renew silently; the new token goes out as an
        // `auth` frame on the same socket, or resumes it with `since`. Refused: the wall says so
        // in a banner; any other page asks the person to sign in again.
        refreshToken: async () => {
          const renewal = await renewSession(getToken());
          if ('token' in renewal) {
            setToken(renewal.token);
            setRenewalRefused(null);
            return renewal.token;
          }
          if (location.pathname === '/wall') {
            setRenewalRefused(renewal.refused);
            return null;
          }
          return new Promise<string | null>((resolve) => setTokenWanted(() => resolve));
        },
        checkToken: () =>
          fetch('/api/jobs?limit=1', { headers: { authorization: `Bearer ${getToken() ?? ''}` } }).then(
            (res) => (res.status === 401 ? 'refused' : res.ok ? 'accepted' : 'unreachable'),
            () => 'unreachable' as const,
          ),
      }),
    [],
  );
  // A handle for debugging in the console and for the end-to-end tests, which check every line
  // a pane holds (the virtualised viewer only puts the visible ones in the DOM).
  (window as unknown as { __jobstream: JobSocket }).__jobstream = socket;
  // The token is the origin's (local storage): a sign-in, renewal or sign-out in another tab
  // applies here too.
  useEffect(
    () =>
      onTokenChangedElsewhere(() => {
        const valid = (claims(getToken())?.exp ?? 0) * 1000 > Date.now();
        setSignedIn(valid);
        const wanted = tokenWantedRef.current;
        if (valid && wanted) {
          wanted(getToken() ?? '');
          setTokenWanted(null);
        }
      }),
    [],
  );
  useEffect(() => {
    if (!signedIn) return;
    socket.connect();
    return () => socket.close();
  }, [socket, signedIn]);
  return (
    <QueryClientProvider client={queryClient}>
      <SocketContext.Provider value={socket}>
        {signedIn ? (
          <>
            {renewalRefused && (
              <div className="notice error session-banner" role="alert">
                This page stopped updating: its session could not be renewed ({renewalRefused}). Open it again
                with a new sign-in link.
              </div>
            )}
            <Shell
              onSignOut={() => {
                clearToken();
                setSignedIn(false);
              }}
            />
            {tokenWanted && (
              <div className="overlay" role="dialog" aria-label="Sign in again">
                <SignInPage
                  onSignedIn={() => {
                    tokenWanted(getToken() ?? '');
                    setTokenWanted(null);
                  }}
                />
              </div>
            )}
          </>
        ) : (
          <SignInPage onSignedIn={() => setSignedIn(true)} />
        )}
      </SocketContext.Provider>
    </QueryClientProvider>
  );
}
