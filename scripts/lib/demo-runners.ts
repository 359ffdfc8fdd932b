/**
 * Demo runners that make the dashboard look like a real team's day, through JobPublisher (the
 * same path as any real runner): a build with ANSI colours, progress and ::group:: sections; a
 * test run that fails with a stack trace on stderr; a coding agent that ends with a branch, a
 * diff and a merge request; now and then a burst of thousands of lines a second.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../../shared/redis/client.js';
import { JobPublisher } from '../../shared/runner/publisher.js';

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const GREEN = '\u001b[32m';
const RED = '\u001b[31m';
const BOLD = '\u001b[1m';
const CYAN = '\u001b[36m';
const RESET = '\u001b[0m';

type Scenario = (p: JobPublisher, stop: () => boolean) => Promise<number>;

const build: Scenario = async (p, stop) => {
  for (const step of ['Install dependencies', 'Compile', 'Bundle', 'Package']) {
    p.stdout(`::group::${step}`);
    for (let i = 0; i < 15 && !stop(); i++) {
      p.stdout(
        `${CYAN}[${step.toLowerCase()}]${RESET} ${pick(['resolving', 'compiling', 'linking', 'writing'])} module-${i} ${GREEN}ok${RESET}`,
      );
      await sleep(150 + Math.random() * 400);
    }
    p.stdout(`${BOLD}${step} finished${RESET} in ${(Math.random() * 9 + 1).toFixed(1)}s`);
    p.stdout('::endgroup::');
  }
  return 0;
};

const tests: Scenario = async (p, stop) => {
  for (let i = 1; i <= 40 && !stop(); i++) {
    p.stdout(
      `${GREEN}✓${RESET} suite ${Math.ceil(i / 8)} › test case ${i} (${Math.floor(Math.random() * 90)} ms)`,
    );
    await sleep(200 + Math.random() * 300);
  }
  p.stdout(`${RED}✕${RESET} checkout › applies the discount once`);
  p.stderr('AssertionError: expected 90 to equal 81');
  for (const frame of [
    'at applyDiscount (src/cart.ts:42:11)',
    'at Object.<anonymous> (test/cart.test.ts:17:5)',
    'at processTicksAndRejections (node:internal/process/task_queues:95:5)',
  ]) {
    p.stderr(`    ${frame}`);
  }
  p.stdout(`${BOLD}Tests:${RESET} ${RED}1 failed${RESET}, 40 passed, 41 total`);
  return 1;
};

const agent: Scenario = async (p, stop) => {
  const branch = `agent/fix-${randomBytes(3).toString('hex')}`;
  const steps = [
    'Cloning into /work/repo…',
    'Reading issue #482: "Cart applies discount twice"',
    'Searching for applyDiscount…',
    'src/cart.ts:42 applies the discount inside the loop',
    'Editing src/cart.ts',
    'Editing test/cart.test.ts',
    'Running npm test…',
    `${GREEN}✓${RESET} 41 passed`,
    `Pushing ${branch}`,
  ];
  await p.update({ branch });
  for (const step of steps) {
    if (stop()) break;
    p.stdout(step);
    await sleep(1200 + Math.random() * 1500);
  }
  await p.update({
    linesAdded: 12 + Math.floor(Math.random() * 80),
    linesRemoved: Math.floor(Math.random() * 30),
    mrUrl: `https://git.example.com/shop/merge_requests/${Math.floor(Math.random() * 900 + 100)}`,
  });
  return 0;
};

const burst: Scenario = async (p, stop) => {
  for (let second = 0; second < 5 && !stop(); second++) {
    for (let i = 0; i < 3000; i++)
      p.stdout(`[burst] record ${second * 3000 + i} ${randomBytes(8).toString('hex')}`);
    await sleep(1000);
  }
  return 0;
};

const SCENARIOS: { name: string; title: () => string; run: Scenario; weight: number }[] = [
  {
    name: 'build',
    title: () => `Build ${pick(['web', 'api', 'worker'])} #${Math.floor(Math.random() * 900 + 100)}`,
    run: build,
    weight: 3,
  },
  { name: 'tests', title: () => `Tests: ${pick(['checkout', 'search', 'billing'])}`, run: tests, weight: 2 },
  {
    name: 'agent',
    title: () => `Agent: fix ${pick(['cart discount', 'flaky login', 'slow search'])}`,
    run: agent,
    weight: 2,
  },
  { name: 'burst', title: () => 'Export: nightly data dump', run: burst, weight: 1 },
];

export interface DemoOptions {
  owners: string[];
  everyMs?: number;
}

/** Starts jobs every few seconds until the returned stop() is called (which waits for them). */
export function startDemoRunners(redis: RedisConnection, options: DemoOptions): () => Promise<void> {
  let stopping = false;
  const running = new Set<Promise<void>>();
  const weighted = SCENARIOS.flatMap((s) => Array<typeof s>(s.weight).fill(s));
  const launch = (): void => {
    const scenario = pick(weighted);
    const id = `${scenario.name}-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
    const job = (async () => {
      const publisher = await JobPublisher.create(redis, {
        id,
        owner: pick(options.owners),
        title: scenario.title(),
      });
      await publisher.start();
      const exitCode = await scenario.run(publisher, () => stopping);
      if (stopping) await publisher.cancel('demo stopped');
      else await publisher.finish(exitCode, exitCode === 0 ? {} : { errorMessage: 'tests failed' });
      await publisher.close();
    })().catch((error: unknown) => console.error(`demo job ${id}: ${(error as Error).message}`));
    running.add(job);
    void job.finally(() => running.delete(job));
  };
  for (let i = 0; i < 3; i++) launch();
  const timer = setInterval(launch, options.everyMs ?? 6000);
  return async () => {
    stopping = true;
    clearInterval(timer);
    await Promise.allSettled([...running]);
  };
}
