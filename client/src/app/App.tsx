/**
 * The dashboard: one QueryClient, one JobSocket for the tab, sign-in before anything else, and a
 * sign-in overlay when the token is about to expire (the pages stay mounted, so every
 * subscription keeps its position).
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { JobSocket } from '../core/job-socket.js';
import { claims, clearToken, getToken, onTokenChangedElsewhere } from '../core/token.js';
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
  const socket = useMemo(
    () =>
      new JobSocket({
        url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
        getToken,
        // Ahead of expiry (or after close 4001): ask the person to sign in again. The token they
        // give goes out as an `auth` frame on the same socket, or resumes it with `since`.
        refreshToken: () => new Promise<string | null>((resolve) => setTokenWanted(() => resolve)),
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
