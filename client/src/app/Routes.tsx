/** Which page an address shows (docs/protocol.md "Dashboard addresses"). */
import { useSyncExternalStore } from 'react';
import { JobPage } from '../pages/JobPage.js';
import { JobsPage } from '../pages/JobsPage.js';
import { NotFoundPage } from '../pages/NotFoundPage.js';
import { WallPage } from '../pages/WallPage.js';
import { WatchPage } from '../pages/WatchPage.js';
import { subscribeToLocation } from './navigation.js';

export function Routes() {
  const path = useSyncExternalStore(subscribeToLocation, () => window.location.pathname);
  const job = /^\/jobs\/([A-Za-z0-9._-]{1,128})$/.exec(path);
  if (job) return <JobPage key={job[1]} jobId={job[1]!} />;
  if (path === '/watch') return <WatchPage />;
  if (path === '/wall') return <WallPage />;
  if (path === '/' || path === '/signin') return <JobsPage />;
  return <NotFoundPage path={path} />;
}
