/**
 * Loads the `jobstream` Redis function library (shared/redis/lua/*.lua, assembled in file-name
 * order into the one source Redis takes) with the deployment's limits.
 *
 * The gateway owns the configuration: it loads with `FUNCTION LOAD REPLACE` at start-up. A
 * publisher only makes sure the library exists (with defaults when it must load it), and never
 * replaces a gateway's limits; it upgrades an older library version keeping the limits that
 * library reports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { JOBS_FEED } from '../keys.js';
import { MAX_FIELD_BYTES, MAX_JOB_HASH_BYTES } from '../job.js';
import { MAX_LINE_BYTES } from '../runner/line-limit.js';
import type { RedisConnection } from './client.js';

/** Bumped whenever the Lua changes in a way that callers depend on. */
export const LIBRARY_VERSION = 7; // 7: annotations; 6: jobstream_append_after; 5: the archive; 4: leases; 3: field caps, progress, read by size

export interface LibraryConfig {
  /** JOBSTREAM_MAX_LINES: lines kept per job. */
  maxLines: number;
  /** JOBSTREAM_RETENTION_S: seconds a finished job's keys live. */
  retentionS: number;
  /** PUBLISH on a standalone Redis, SPUBLISH in a Redis Cluster (job events only). */
  eventsPublish: 'publish' | 'spublish';
  /** Set when JOBSTREAM_ARCHIVE_URL is: the list is trimmed around what is archived. */
  archive?: ArchiveLimits | null;
}

/** The archive's limits the library enforces (docs/architecture.md "Archive"). */
export interface ArchiveLimits {
  /** JOBSTREAM_HARD_MAX_LINES: past this length unarchived lines are trimmed anyway. */
  hardMaxLines: number;
  /** JOBSTREAM_HOT_RETENTION_S: life of a finished, archived job's list. */
  hotRetentionS: number;
}

export const DEFAULT_LIBRARY_CONFIG: LibraryConfig = {
  maxLines: 100_000,
  retentionS: 7 * 24 * 3600,
  eventsPublish: 'publish',
};

const LUA_DIR = new URL('./lua/', import.meta.url);
/** The library's source before its placeholders are filled: common helpers, then the functions. */
export const LUA_TEMPLATE = readdirSync(LUA_DIR)
  .filter((name) => name.endsWith('.lua'))
  .sort()
  .map((name) => readFileSync(new URL(name, LUA_DIR), 'utf8'))
  .join('\n');

export function librarySource(config: LibraryConfig): string {
  if (!Number.isInteger(config.maxLines) || config.maxLines < 1)
    throw new RangeError('maxLines must be a positive integer');
  if (!Number.isInteger(config.retentionS) || config.retentionS < 1)
    throw new RangeError('retentionS must be a positive integer');
  const archive = config.archive ?? null;
  if (archive && (!Number.isInteger(archive.hardMaxLines) || archive.hardMaxLines < config.maxLines))
    throw new RangeError('hardMaxLines must be an integer of at least maxLines');
  if (archive && (!Number.isInteger(archive.hotRetentionS) || archive.hotRetentionS < 1))
    throw new RangeError('hotRetentionS must be a positive integer');
  const source = LUA_TEMPLATE.replaceAll('__LIBRARY_VERSION__', String(LIBRARY_VERSION))
    .replaceAll('__MAX_LINES__', String(config.maxLines))
    .replaceAll('__RETENTION_S__', String(config.retentionS))
    .replaceAll('__EVENTS_PUBLISH__', config.eventsPublish)
    .replaceAll('__ARCHIVE__', archive ? 'true' : 'false')
    .replaceAll('__HARD_MAX_LINES__', String(archive?.hardMaxLines ?? 0))
    .replaceAll('__HOT_RETENTION_S__', String(archive?.hotRetentionS ?? 0))
    .replaceAll('__MAX_LINE_BYTES__', String(MAX_LINE_BYTES))
    .replaceAll('__MAX_FIELD_BYTES__', String(MAX_FIELD_BYTES))
    .replaceAll('__MAX_HASH_BYTES__', String(MAX_JOB_HASH_BYTES))
    .replaceAll('__JOBS_FEED__', JOBS_FEED);
  const leftover = /__[A-Z_]+__/.exec(source);
  if (leftover) throw new Error(`the jobstream library has an unfilled placeholder ${leftover[0]}`);
  return source;
}

export interface LoadedLibrary extends LibraryConfig {
  version: number;
}

/** What the loaded library reports about itself, or null when none is loaded. */
export async function loadedLibrary(redis: RedisConnection): Promise<LoadedLibrary | null> {
  try {
    const reply = (await redis.fcall('jobstream_version', 0)) as [
      string,
      number,
      number,
      string,
      number?,
      number?,
    ];
    const hardMaxLines = Number(reply[4] ?? 0);
    return {
      version: Number(reply[0]),
      maxLines: Number(reply[1]),
      retentionS: Number(reply[2]),
      eventsPublish: reply[3] === 'spublish' ? 'spublish' : 'publish',
      archive: hardMaxLines > 0 ? { hardMaxLines, hotRetentionS: Number(reply[5] ?? 0) } : null,
    };
  } catch (error) {
    if (error instanceof Error && /function not found/i.test(error.message)) return null;
    throw error;
  }
}

/** A cluster's primaries; a fresh Cluster client knows none until it has read the slot map. */
async function primaries(cluster: Cluster): Promise<Redis[]> {
  if (cluster.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', () => resolve());
      cluster.once('end', () => reject(new Error('the Redis Cluster connection ended before it was ready')));
    });
  }
  return cluster.nodes('master');
}

/** The nodes that must hold the library: every primary of a cluster, or the one standalone node. */
export async function libraryNodes(redis: RedisConnection): Promise<Redis[]> {
  return 'nodes' in redis ? primaries(redis) : [redis];
}

async function functionLoad(redis: RedisConnection, source: string, replace: boolean): Promise<void> {
  const args = replace ? ['REPLACE', source] : [source];
  const nodes = await libraryNodes(redis);
  await Promise.all(
    nodes.map(async (node) => {
      try {
        await node.call('FUNCTION', 'LOAD', ...args);
      } catch (error) {
        // Two publishers racing to load the missing library: the loser's copy is the same.
        if (!replace && error instanceof Error && /already exists/i.test(error.message)) return;
        throw error;
      }
    }),
  );
}

/** The gateway's load: this configuration wins over whatever was loaded before. */
export async function loadLibrary(redis: RedisConnection, config: LibraryConfig): Promise<void> {
  await functionLoad(redis, librarySource(config), true);
}

/** The gateway's load on one node (one that lost the library). */
export async function loadLibraryOn(node: Redis, config: LibraryConfig): Promise<void> {
  await node.call('FUNCTION', 'LOAD', 'REPLACE', librarySource(config));
}

/**
 * A publisher's load: loads the library with `defaults` only when none is loaded, and upgrades
 * an older version while keeping the limits it reports. Returns what is loaded afterwards.
 */
export async function ensureLibrary(
  redis: RedisConnection,
  defaults: LibraryConfig = DEFAULT_LIBRARY_CONFIG,
): Promise<LoadedLibrary> {
  const loaded = await loadedLibrary(redis);
  if (loaded === null) {
    await functionLoad(redis, librarySource(defaults), false);
  } else if (loaded.version < LIBRARY_VERSION) {
    await functionLoad(redis, librarySource(loaded), true);
  } else {
    return loaded;
  }
  const after = await loadedLibrary(redis);
  if (after === null) throw new Error('the jobstream function library did not load');
  return after;
}

/**
 * A publisher's answer to `Function not found` (a node that lost the library: a restart without
 * persistence, a promoted replica that never had it): loads it, with defaults, on every node that
 * lacks it. Never replaces a loaded one, so a gateway's limits stand.
 */
export async function loadLibraryWhereMissing(
  redis: RedisConnection,
  defaults: LibraryConfig = DEFAULT_LIBRARY_CONFIG,
): Promise<void> {
  await functionLoad(redis, librarySource(defaults), false);
}

/** The error Redis answers an FCALL with when the library is not loaded on that node. */
export const isFunctionMissing = (error: unknown): boolean =>
  error instanceof Error && /function not found/i.test(error.message);
