/**
 * Test helper: renders a tree with a fresh QueryClient and the given JobSocket, as the app does,
 * in jsdom, inside `act` so effects and store updates have run when it returns.
 */
import { act, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import type { JobSocket } from '../../../packages/client/src/index.js';
import { SocketContext } from '../react/socket-context.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Rendered {
  container: HTMLElement;
  queryClient: QueryClient;
  unmount(): void;
}

export function renderWithSocket(ui: ReactNode, socket: JobSocket): Rendered {
  const container = document.createElement('div');
  document.body.append(container);
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const root = createRoot(container);
  act(() =>
    root.render(
      <QueryClientProvider client={queryClient}>
        <SocketContext.Provider value={socket}>{ui}</SocketContext.Provider>
      </QueryClientProvider>,
    ),
  );
  return {
    container,
    queryClient,
    unmount() {
      act(() => root.unmount());
      container.remove();
    },
  };
}
