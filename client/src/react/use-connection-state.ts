import { useSyncExternalStore } from 'react';
import type { ConnectionState } from '../../../packages/client/src/index.js';
import { useJobSocket } from './socket-context.js';

/** The socket's connection state, live. */
export function useConnectionState(): ConnectionState {
  const socket = useJobSocket();
  return useSyncExternalStore(socket.onStateChange, socket.getState);
}
