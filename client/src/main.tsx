import { StrictMode, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { adoptTokenFromFragment, claims, clearToken, getToken } from './auth.js';
import { ConnectionBadge } from './components/OutputViewer.js';
import { SocketContext, useConnectionState } from './hooks.js';
import { JobPage, JobsPage, navigate, SignInPage, WallPage, WatchPage } from './pages/pages.js';
import { JobSocket } from './socket/job-socket.js';
import './styles.css';

adoptTokenFromFragment();

const subscribeToLocation = (cb: () => void) => {
  window.addEventListener('popstate', cb);
  return () => window.removeEventListener('popstate', cb);
};

function Routes() {
  const path = useSyncExternalStore(subscribeToLocation, () => window.location.pathname);
  const job = /^\/jobs\/([A-Za-z0-9._-]{1,128})$/.exec(path);
  if (job) return <JobPage key={job[1]} jobId={job[1]!} />;
  if (path === '/watch') return <WatchPage />;
  if (path === '/wall') return <WallPage />;
  return <JobsPage />;
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const state = useConnectionState();
  const user = claims(getToken());
  return (
    <>
      <nav>
        <a href="/" onClick={(e) => (e.preventDefault(), navigate('/'))} className="brand">
          jobstream
        </a>
        <a href="/wall" onClick={(e) => (e.preventDefault(), navigate('/wall'))}>
          Wall
        </a>
        <span className="spacer" />
        <ConnectionBadge state={state} />
        <span>{user?.sub}</span>
        <button onClick={onSignOut}>Sign out</button>
      </nav>
      <Routes />
    </>
  );
}

function App() {
  const queryClient = useMemo(
    () => new QueryClient({ defaultOptions: { queries: { staleTime: 10_000, retry: 1 } } }),
    [],
  );
  const [signedIn, setSignedIn] = useState(() => (claims(getToken())?.exp ?? 0) * 1000 > Date.now());
  // Set while the socket waits for a fresh token: the sign-in form shows over the pages, which
  // stay mounted, so every subscription keeps its position and its lines.
  const [tokenWanted, setTokenWanted] = useState<((token: string) => void) | null>(null);
  const socket = useMemo(
    () =>
      new JobSocket({
        url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
        getToken,
        // Ahead of expiry (or after close 4001): ask the person to sign in again. The token they
        // give goes out as an `auth` frame on the same socket, or resumes it with `since`.
        refreshToken: () => new Promise<string | null>((resolve) => setTokenWanted(() => resolve)),
      }),
    [],
  );
  // A handle for debugging in the console and for the end-to-end tests, which check every line
  // a pane holds (the virtualised viewer only puts the visible ones in the DOM).
  (window as unknown as { __jobstream: JobSocket }).__jobstream = socket;
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

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
