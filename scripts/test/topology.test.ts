/**
 * `npm run topology -- up|status|down`: the reference deployment (3+3 Redis Cluster, gateways,
 * HAProxy from deploy/haproxy.cfg) comes up in the background, answers through HAProxy, and goes
 * away leaving nothing running.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from '@jest/globals';
import { ROOT } from '../lib/build.js';
import { alive } from '../lib/processes.js';
import { haproxyInstalled } from '../lib/haproxy.js';

const topology = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/topology.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });

(haproxyInstalled() ? it : it.skip)(
  'up prints the dashboard URL first, status sees it ready through HAProxy, down leaves nothing',
  async () => {
    const up = topology('up', '--gateways', '2');
    try {
      expect(up.status).toBe(0);
      const firstLine = up.stdout.split('\n')[0]!;
      expect(firstLine).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=\S+$/); // alone on its line
      const state = JSON.parse(readFileSync(join(ROOT, '.tmp', 'topology', 'state.json'), 'utf8')) as {
        url: string;
        members: { role: string; pid: number; port: number }[];
      };
      expect(state.members.map((m) => m.role).sort()).toEqual([
        'gateway',
        'gateway',
        'haproxy',
        'redis',
        'redis',
        'redis',
        'redis',
        'redis',
        'redis',
      ]);
      const ready = (await (await fetch(`${state.url}/readyz`)).json()) as {
        library: { eventsPublish: string };
      };
      expect(ready.library.eventsPublish).toBe('spublish'); // the gateways run on the Cluster
      // A reference deployment signs in as production does: no dev route hands out admin tokens.
      const dev = await fetch(`${state.url}/api/dev/token?sub=mallory&role=admin`);
      expect(dev.status).toBe(404);
      expect(up.stdout).toMatch(/no DEV_AUTH/);
      const status = topology('status');
      expect(status.status).toBe(0);
      expect(status.stdout).toMatch(/through HAProxy: ready/);
      const firstRedis = state.members.find((m) => m.role === 'redis')!;
      const replicas = execFileSync('redis-cli', ['-p', String(firstRedis.port), 'CLUSTER', 'NODES'], {
        encoding: 'utf8',
      });
      expect(replicas.split('\n').filter((l) => l.includes('slave')).length).toBe(3); // a replica per primary

      const down = topology('down');
      expect(down.status).toBe(0);
      expect(state.members.filter((m) => alive(m.pid))).toEqual([]);
      expect(topology('status').status).toBe(1);
    } finally {
      topology('down');
    }
  },
  120_000,
);
