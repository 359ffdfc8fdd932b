/**
 * What the load tester's coordinator (scripts/loadtest.ts) and its worker processes
 * (worker.ts) say to each other over IPC: the coordinator starts a worker with its share and
 * commands faults; a worker reports progress every second and everything at the end.
 */
import type { Scenario } from './options.js';
import type { Violation } from './tracker.js';

export interface WorkerStart {
  scenario: Scenario;
  index: number;
  /** Global index of this worker's first socket, and how many it opens. */
  offset: number;
  count: number;
  jobIds: string[];
  /** A token per socket index, or a list to take in turn. */
  tokens: string[];
  /** Worker processes in the run (the ramp is shared between them). */
  processes: number;
}

export type CoordinatorCommand =
  | { type: 'start'; start: WorkerStart }
  | { type: 'storm'; fraction: number }
  | { type: 'stall'; fraction: number; forMs: number }
  | { type: 'churn'; count: number }
  | { type: 'stop' };

export interface WorkerProgress {
  /** Every subscription has seen `done`. */
  allDone: boolean;
  open: number;
  lines: number;
  errors: number;
  latencyUs: string;
}

export interface WorkerReport {
  opened: number;
  open: number;
  subscriptions: number;
  done: number;
  lines: number;
  gapLines: number;
  connectMs: string;
  latencyUs: string;
  violations: Violation[];
  counts: { missing: number; repeated: number; 'out of order': number };
  errors: [string, number][];
  /** Milliseconds from the storm command until every reconnected subscription streamed again. */
  stormRecoveryMs: number | null;
}

export type WorkerMessage =
  | { type: 'connected' }
  | { type: 'progress'; progress: WorkerProgress }
  | { type: 'report'; report: WorkerReport };
