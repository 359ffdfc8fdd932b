/** The tab's one JobSocket, provided to every hook below it. */
import { createContext, useContext } from 'react';
import type { JobSocket } from '../../../packages/client/src/index.js';

export const SocketContext = createContext<JobSocket | null>(null);

export function useJobSocket(): JobSocket {
  const socket = useContext(SocketContext);
  if (!socket) throw new Error('useJobSocket needs a <SocketContext.Provider value={jobSocket}> above it');
  return socket;
}
