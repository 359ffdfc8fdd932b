/**
 * The local demo's identities, in one place: the jobs `npm start`'s demo runners create belong to
 * the owners; the sign-in links it prints and the dev sign-in page (`/api/dev`) offer the users.
 */
import type { Role } from './protocol.js';

export interface DemoUser {
  sub: string;
  role: Role;
  /** What this user sees, for a link's label. */
  sees: string;
}

export const DEMO_OWNERS = ['alice', 'bob'] as const;

export const DEMO_USERS: readonly DemoUser[] = [
  { sub: 'admin', role: 'admin', sees: 'every job and the wall' },
  { sub: 'alice', role: 'user', sees: 'her own jobs' },
  { sub: 'bob', role: 'user', sees: 'his own jobs' },
];
