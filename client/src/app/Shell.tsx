/** The navigation bar (brand, wall, connection state, who is signed in) over the routed page. */
import { ConnectionBadge } from '../components/badges.js';
import { getToken } from '../core/token.js';
import { claims } from '../../../packages/client/src/index.js';
import { useConnectionState } from '../react/use-connection-state.js';
import { useJobSocket } from '../react/socket-context.js';
import { useSyncExternalStore } from 'react';
import { navigate, subscribeToLocation } from './navigation.js';
import { Routes } from './Routes.js';

export function Shell({ onSignOut }: { onSignOut: () => void }) {
  const state = useConnectionState();
  const socket = useJobSocket();
  const user = claims(getToken());
  // The wall is a kiosk: no navigation bar on a screen across the room.
  const path = useSyncExternalStore(subscribeToLocation, () => window.location.pathname);
  if (path === '/wall') return <Routes />;
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
        {state === 'reconnecting' && (
          <button type="button" onClick={() => socket.retry()}>
            Reconnect now
          </button>
        )}
        <span>{user?.sub}</span>
        <button onClick={onSignOut}>Sign out</button>
      </nav>
      <Routes />
    </>
  );
}
