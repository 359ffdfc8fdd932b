/**
 * What a load test does, from flags or a scenario file (`--scenario file.json`, checked with a
 * schema whose errors name the field; flags override the file). Every run is bounded: sockets,
 * duration and rates are finite, and it stops by itself.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { RedisTarget } from '../../shared/redis/connect.js';

/** `20s`, `2m`, `20` → seconds. */
export function parseSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (20s, 2m, 500ms)`);
  const n = Number(match[1]);
  return match[2] === 'm' ? n * 60 : match[2] === 'ms' ? n / 1000 : n;
}

/** `2000/s`, `2000` → per second. */
export function parsePerSecond(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a rate (2000/s)`);
  return Number(match[1]);
}

/** `10%`, `0.1` → 0.1. */
export function parseFraction(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(%)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a fraction (10% or 0.1)`);
  const n = Number(match[1]) / (match[2] ? 100 : 1);
  if (n < 0 || n > 1) throw new Error(`"${text}" is not between 0 and 100%`);
  return n;
}

/** The WebSocket endpoint as a client takes it: a URL with a path is used as it is; a bare base URL gets `/ws`. */
export function endpointUrl(url: string): string {
  const parsed = new URL(url.replace(/^http/, 'ws'));
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new Error(`"${url}" is not a ws:// URL`);
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/ws';
  return parsed.toString();
}

export const scenarioSchema = z
  .object({
    urls: z.array(z.string().min(1)).min(1),
    sockets: z.number().int().min(1).max(200_000),
    processes: z.number().int().min(1).max(64).optional(),
    localAddresses: z
      .array(z.string().regex(/^\d+\.\d+\.\d+\.\d+$|^[0-9a-f:]+$/i, 'an IP address'))
      .default([]),
    rampPerSecond: z.number().min(0).default(0),
    durationS: z.number().positive().max(3600).default(20),
    subsPerSocket: z.number().int().min(1).max(1000).default(1),
    auth: z.enum(['header', 'subprotocol']).default('header'),
    tokensFile: z.string().optional(),
    redis: z.string().optional(),
    jobs: z.number().int().min(1).max(100_000).default(10),
    jobIds: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'a job id')).optional(),
    ratePerJob: z.number().min(0).max(100_000).default(10),
    batch: z.boolean().default(false),
    reconnectStormAtS: z.number().min(0).optional(),
    stormFraction: z.number().min(0).max(1).default(1),
    churnPerSecond: z.number().min(0).default(0),
    stallFraction: z.number().min(0).max(1).default(0),
    stallForS: z.number().positive().default(5),
    json: z.string().optional(),
    jobPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .optional(),
  })
  .strict()
  .refine((s) => s.redis !== undefined || s.jobIds !== undefined, {
    message:
      'give --redis (the load tester creates and feeds the jobs) or --job-ids (real runners feed them)',
    path: ['redis'],
  });
export type Scenario = z.infer<typeof scenarioSchema>;

/** A scenario from its JSON text; an error names the field. */
export function parseScenario(json: unknown): Scenario {
  const parsed = scenarioSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(`scenario: ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'}`);
}

export interface CliValues {
  url?: string[] | undefined;
  sockets?: string | undefined;
  processes?: string | undefined;
  'local-addresses'?: string | undefined;
  ramp?: string | undefined;
  duration?: string | undefined;
  'subs-per-socket'?: string | undefined;
  auth?: string | undefined;
  tokens?: string | undefined;
  redis?: string | undefined;
  jobs?: string | undefined;
  'job-ids'?: string | undefined;
  rate?: string | undefined;
  batch?: boolean | undefined;
  'reconnect-storm-at'?: string | undefined;
  'storm-fraction'?: string | undefined;
  churn?: string | undefined;
  stall?: string | undefined;
  'stall-for'?: string | undefined;
  json?: string | undefined;
  scenario?: string | undefined;
  seconds?: string | undefined;
  'job-prefix'?: string | undefined;
}

/** The scenario a command line describes (its file, then its flags over it). */
export function scenarioFromCli(values: CliValues): Scenario {
  const base: Record<string, unknown> = values.scenario
    ? (JSON.parse(readFileSync(values.scenario, 'utf8')) as Record<string, unknown>)
    : {};
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) base[key] = value;
  };
  const list = (text: string | undefined): string[] | undefined =>
    text === undefined
      ? undefined
      : text
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  set(
    'urls',
    values.url?.flatMap((u) => list(u) ?? []),
  );
  set('sockets', values.sockets === undefined ? undefined : Number(values.sockets));
  set('processes', values.processes === undefined ? undefined : Number(values.processes));
  set('localAddresses', list(values['local-addresses']));
  set('rampPerSecond', values.ramp === undefined ? undefined : parsePerSecond(values.ramp));
  // --seconds is the old name of --duration
  const duration = values.duration ?? values.seconds;
  set('durationS', duration === undefined ? undefined : parseSeconds(duration));
  set(
    'subsPerSocket',
    values['subs-per-socket'] === undefined ? undefined : Number(values['subs-per-socket']),
  );
  set('auth', values.auth);
  set('tokensFile', values.tokens);
  set('redis', values.redis);
  set('jobs', values.jobs === undefined ? undefined : Number(values.jobs));
  set('jobIds', list(values['job-ids']));
  set('ratePerJob', values.rate === undefined ? undefined : parsePerSecond(values.rate));
  set('batch', values.batch);
  set(
    'reconnectStormAtS',
    values['reconnect-storm-at'] === undefined ? undefined : parseSeconds(values['reconnect-storm-at']),
  );
  set(
    'stormFraction',
    values['storm-fraction'] === undefined ? undefined : parseFraction(values['storm-fraction']),
  );
  set('churnPerSecond', values.churn === undefined ? undefined : parsePerSecond(values.churn));
  set('stallFraction', values.stall === undefined ? undefined : parseFraction(values.stall));
  set('stallForS', values['stall-for'] === undefined ? undefined : parseSeconds(values['stall-for']));
  set('json', values.json);
  set('jobPrefix', values['job-prefix']);
  if (base.urls === undefined) base.urls = ['ws://127.0.0.1:8080/ws'];
  if (base.sockets === undefined) base.sockets = 1000;
  const scenario = parseScenario(base);
  return { ...scenario, urls: scenario.urls.map(endpointUrl) };
}

/** Worker processes: enough that none holds more than 15,000 sockets (20,000 open files each). */
export const processCount = (s: Scenario): number =>
  s.processes ?? Math.max(1, Math.ceil(s.sockets / 15_000));

/** The source address for socket `index`: spread evenly, so no address runs out of ephemeral ports. */
export function localAddressFor(index: number, addresses: readonly string[]): string | undefined {
  return addresses.length === 0 ? undefined : addresses[index % addresses.length];
}

/**
 * `--redis`: a URL (a standalone Redis), or the nodes of a Redis Cluster as `host:port,…`
 * (jobs are then created and fed through the Cluster client, as the gateway reads them).
 */
export function redisTargetOf(value: string): RedisTarget {
  if (/^rediss?:\/\//.test(value))
    return { url: value, clusterNodes: null, tls: value.startsWith('rediss:') };
  const nodes = value
    .split(',')
    .map((node) => node.trim())
    .filter(Boolean);
  return { url: `redis://${nodes[0] ?? '127.0.0.1:6379'}`, clusterNodes: nodes, tls: false };
}
