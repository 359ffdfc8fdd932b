/**
 * What the browser downloads: the production bundle holds no server-side validation library (zod
 * stays in the gateway, gateway/src/stream/client-frames.ts), and its size is printed run to run.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from '@jest/globals';
import { buildDashboardIfStale } from '../../scripts/lib/build.js';

it('the dashboard bundle carries no zod, and its size is printed', () => {
  const dist = buildDashboardIfStale();
  const assets = join(dist, 'assets');
  const scripts = readdirSync(assets).filter((name) => name.endsWith('.js'));
  expect(scripts.length).toBeGreaterThan(0);
  let bytes = 0;
  for (const name of scripts) {
    const text = readFileSync(join(assets, name), 'utf8');
    bytes += statSync(join(assets, name)).size;
    // Strings zod's own code carries whatever the minifier does to names.
    expect(text).not.toMatch(/ZodError|invalid_type_error|zod\.dev/);
  }
  console.log(`dashboard JavaScript: ${(bytes / 1024).toFixed(0)} KiB in ${scripts.length} file(s)`);
}, 120_000);
