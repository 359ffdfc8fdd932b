/**
 * @jobstream/client: the one client core of jobstream, for a browser tab and for Node alike (the
 * dashboard and the `jobstream` CLI both run it). A `JobSocket` multiplexes every job a program
 * follows over one WebSocket (`jobstream.v1`, docs/protocol.md), resumes each with `since` after a
 * reconnect (no line lost or repeated), retries refused subscribes, and renews its token.
 */
export { JobSocket, type ConnectionState } from './job-socket.js';
export type { JobSocketOptions } from './job-socket-options.js';
export { isRetried, type JobEvent, type JobView } from './held-job.js';
export {
  AnsiStyler,
  DEFAULT_MAX_LINES,
  LineStore,
  type GapNotice,
  type LineStoreSnapshot,
  type StyledSpan,
  type ViewLine,
} from './line-store.js';
export { PLAIN_URL, safeHref, type Hyperlink } from './terminal-text.js';
export { claims, tokenExpiry, type Claims } from './claims.js';
export { renewSession, type Renewal } from './session.js';
export { gatewaySocketUrl } from './gateway-url.js';
export { ago, duration, span } from './time-text.js';
export type {
  DoneFrame,
  GapFrame,
  OutputLine,
  ProgressFrame,
  ServerFrame,
} from '../../../shared/protocol.js';
export type { Job, JobStatus } from '../../../shared/job.js';
