/**
 * Demo runners that make the dashboard look like a real team's day, through JobPublisher (the
 * same path as any real runner): a build with ANSI colours, a live progress bar and ::group::
 * sections; a test run that fails with an ::error:: annotation and a stack trace on stderr; a
 * coding agent that works on the issue its title names and ends with a branch, a diff and a
 * merge request; now and then a burst of thousands of lines a second.
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

/** A download drawn as a terminal would (`\r` redraws): shown live, stored once, finished. */
async function downloadBar(p: JobPublisher, stop: () => boolean): Promise<void> {
  const bar = (percent: number) =>
    `Downloading packages [${'#'.repeat(percent / 5).padEnd(20, '.')}] ${percent}%`;
  for (let percent = 0; percent < 100 && !stop(); percent += 5) {
    p.progress('stdout', bar(percent));
    await sleep(250);
  }
  p.stdout(bar(100));
}

const build: Scenario = async (p, stop) => {
  for (const step of ['Install dependencies', 'Compile', 'Bundle', 'Package']) {
    p.stdout(`::group::${step}`);
    if (step === 'Install dependencies') await downloadBar(p, stop);
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

/** The one test that fails in each suite's run, where, and how. */
const FAILING_TESTS = {
  checkout: {
    name: 'checkout › applies the discount once',
    file: 'src/cart.ts',
    line: 42,
    fn: 'applyDiscount',
    message: 'expected 90 to equal 81',
  },
  search: {
    name: 'search › ranks exact matches first',
    file: 'src/search.ts',
    line: 77,
    fn: 'rankProducts',
    message: "expected 'mug' to equal 'red mug'",
  },
  billing: {
    name: 'billing › rounds VAT per line',
    file: 'src/invoice.ts',
    line: 118,
    fn: 'vatFor',
    message: 'expected 19.99 to equal 20',
  },
} as const;
type Suite = keyof typeof FAILING_TESTS;

const tests =
  (suite: Suite): Scenario =>
  async (p, stop) => {
    const failing = FAILING_TESTS[suite];
    for (let i = 1; i <= 40 && !stop(); i++) {
      p.stdout(
        `${GREEN}✓${RESET} ${suite} ${Math.ceil(i / 8)} › test case ${i} (${Math.floor(Math.random() * 90)} ms)`,
      );
      await sleep(200 + Math.random() * 300);
    }
    p.stdout(`${RED}✕${RESET} ${failing.name}`);
    p.stdout(`::error file=${failing.file},line=${failing.line}::${failing.message}`);
    p.stderr(`AssertionError: ${failing.message}`);
    for (const frame of [
      `at ${failing.fn} (${failing.file}:${failing.line}:11)`,
      `at Object.<anonymous> (test/${suite}.test.ts:17:5)`,
      'at processTicksAndRejections (node:internal/process/task_queues:95:5)',
    ]) {
      p.stderr(`    ${frame}`);
    }
    p.stdout(`${BOLD}Tests:${RESET} ${RED}1 failed${RESET}, 40 passed, 41 total`);
    return 1;
  };

/** What each agent job works on; its title names the fix, so its log must tell the same story. */
const AGENT_TASKS = {
  'cart discount': {
    issue: '#482: "Cart applies discount twice"',
    search: 'applyDiscount',
    cause: 'src/cart.ts:42 applies the discount inside the loop',
    files: ['src/cart.ts', 'test/cart.test.ts'],
  },
  'flaky login': {
    issue: '#517: "Login test fails one run in ten"',
    search: 'waitForSession',
    cause: 'test/login.test.ts:18 reads the cookie before the session is saved',
    files: ['test/login.test.ts', 'src/session.ts'],
  },
  'slow search': {
    issue: '#530: "Search takes 4 s on large shops"',
    search: 'searchProducts',
    cause: 'src/search.ts:77 loads every product before filtering',
    files: ['src/search.ts', 'migrations/0042_product_name_index.sql'],
  },
} as const;
type AgentTask = keyof typeof AGENT_TASKS;

const agent =
  (fix: AgentTask): Scenario =>
  async (p, stop) => {
    const task = AGENT_TASKS[fix];
    const branch = `agent/fix-${randomBytes(3).toString('hex')}`;
    const steps = [
      'Cloning into /work/repo…',
      `Reading issue ${task.issue}`,
      `Searching for ${task.search}…`,
      task.cause,
      ...task.files.map((file) => `Editing ${file}`),
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

/** Each kind of job: a title and the run that matches it (a test run fails in the suite it names). */
const SCENARIOS: { name: string; start: () => { title: string; run: Scenario }; weight: number }[] = [
  {
    name: 'build',
    start: () => ({
      title: `Build ${pick(['web', 'api', 'worker'])} #${Math.floor(Math.random() * 900 + 100)}`,
      run: build,
    }),
    weight: 3,
  },
  {
    name: 'tests',
    start: () => {
      const suite = pick(Object.keys(FAILING_TESTS) as Suite[]);
      return { title: `Tests: ${suite}`, run: tests(suite) };
    },
    weight: 2,
  },
  {
    name: 'agent',
    start: () => {
      const fix = pick(Object.keys(AGENT_TASKS) as AgentTask[]);
      return { title: `Agent: fix ${fix}`, run: agent(fix) };
    },
    weight: 2,
  },
  { name: 'burst', start: () => ({ title: 'Export: nightly data dump', run: burst }), weight: 1 },
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
      const { title, run } = scenario.start();
      const publisher = await JobPublisher.create(redis, { id, owner: pick(options.owners), title });
      await publisher.start();
      const exitCode = await run(publisher, () => stopping);
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
