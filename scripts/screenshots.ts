/**
 * npx tsx scripts/screenshots.ts: regenerates the README's pictures (docs/*.png) from the real
 * stack — a private Redis, the gateway serving the built dashboard, the demo runners — in
 * headless Chromium.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { launchBrowser } from './lib/browser.js';
import { ROOT } from './lib/build.js';
import { startStack } from './lib/stack.js';
import { startDemoRunners } from './lib/demo-runners.js';
import { readCommandLine } from './lib/cli.js';

readCommandLine(
  {
    usage: 'usage: npx tsx scripts/screenshots.ts',
    description: `
Regenerates the README's pictures (docs/*.png) from the real stack (a private Redis, the gateway
serving the built dashboard, the demo runners) in headless Chromium.`,
  },
  { options: {} },
);

const stack = await startStack({ secret: 'screenshots', dashboard: true });
const { gateway } = stack;
const client = stack.redis!.client(); // standalone: JobPublisher takes a standalone connection
const stopDemo = startDemoRunners(client, { owners: ['alice', 'bob'], everyMs: 2500 });
const admin = stack.token('admin', 'admin');
const browser = await launchBrowser();
try {
  await sleep(20_000); // a realistic mix: some running, some finished, a failure
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const shot = (name: string) => page.screenshot({ path: join(ROOT, 'docs', `${name}.png`) });
  await page.goto(`${gateway.url}/#token=${admin}`);
  await page.locator('table.jobs a').first().waitFor();
  await sleep(500);
  await shot('jobs');

  // The same list on a phone: two-line cards, eight to a screen.
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(`${gateway.url}/#token=${admin}`);
  await phone.locator('table.jobs a').first().waitFor();
  await sleep(500);
  await phone.screenshot({ path: join(ROOT, 'docs', 'phone.png') });
  await phone.close();

  const ids = await page.locator('table.jobs tr').evaluateAll((rows) =>
    rows
      .map((r) => ({
        id: (r.getAttribute('data-testid') ?? '').replace('job-row-', ''),
        status: r.querySelector('.badge')?.textContent,
      }))
      .filter((r) => r.id),
  );
  const build =
    ids.find((j) => j.id.startsWith('build-') && j.status === 'running') ??
    ids.find((j) => j.id.startsWith('build-')) ??
    ids[0]!;
  await page.goto(`${gateway.url}/jobs/${build.id}`);
  await page.locator('[data-testid="lines"] .line').nth(5).waitFor({ timeout: 20_000 });
  await sleep(1500);
  await shot('job');

  const running = ids
    .filter((j) => j.status === 'running')
    .slice(0, 3)
    .map((j) => j.id);
  await page.goto(
    `${gateway.url}/watch?jobs=${(running.length >= 2 ? running : ids.slice(0, 3).map((j) => j.id)).join(',')}`,
  );
  await sleep(3000);
  await shot('watch');

  await page.goto(`${gateway.url}/wall`);
  await sleep(3000);
  await shot('wall');
  console.log('wrote docs/jobs.png, docs/phone.png, docs/job.png, docs/watch.png, docs/wall.png');
} finally {
  await browser.close();
  await Promise.race([stopDemo(), sleep(3000)]);
  client.disconnect();
  await stack.stop();
}
