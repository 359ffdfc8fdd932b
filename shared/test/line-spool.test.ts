/**
 * The runner's spool (line-spool.ts) and the queue in front of it (outgoing-lines.ts): whatever
 * is pushed comes back once, in order, byte for byte, however pushes and takes interleave.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import { LineSpool } from '../runner/line-spool.js';
import { OutgoingLines } from '../runner/outgoing-lines.js';
import type { LineToAppend } from '../redis/functions.js';
import { seededRandom, testSeed } from '../testing/seeded-random.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SEED = testSeed('SPOOL_SEED', 'spool interleavings');

/** A line of random length (now and then up to 40 KB) and text (UTF-8 too). */
function randomLine(random: () => number, n: number): LineToAppend {
  const alphabet = ['a', 'b', 'é', '漢', '🙂', ' ', '\t', '\u001b[31m'];
  const length = random() < 0.002 ? Math.floor(random() * 40_000) : Math.floor(random() * 120);
  let line = `${n}:`;
  for (let i = 0; i < length; i++) line += alphabet[Math.floor(random() * alphabet.length)];
  return { stream: random() < 0.3 ? 'stderr' : 'stdout', line };
}

it(`gives back every line once, in order, through random pushes and takes (seed ${SEED})`, () => {
  const random = seededRandom(SEED);
  const spool = new LineSpool(dir, 1024 ** 3);
  const pushed: LineToAppend[] = [];
  const taken: LineToAppend[] = [];
  for (let round = 0; round < 200; round++) {
    const pushes = Math.floor(random() * 1000);
    for (let i = 0; i < pushes; i++) {
      const line = randomLine(random, pushed.length);
      if (!spool.push(line)) throw new Error(`line ${pushed.length} refused`);
      pushed.push(line);
    }
    for (const line of spool.take(Math.floor(random() * 1500), Math.floor(random() * 200_000) + 1))
      taken.push(line);
    if (spool.length !== pushed.length - taken.length) throw new Error(`round ${round}: spool.length is off`);
  }
  for (const line of spool.take(Infinity, Infinity)) taken.push(line);
  expect(spool.length).toBe(0);
  expect(taken.length).toBe(pushed.length);
  const differs = pushed.findIndex(
    (line, i) => taken[i]?.line !== line.line || taken[i]?.stream !== line.stream,
  );
  expect(differs).toBe(-1);
  spool.close();
});

it('refuses a line past its size and keeps the ones before it; leaves no file behind', () => {
  const spool = new LineSpool(dir, 5 * (5 + 10));
  for (let i = 0; i < 5; i++)
    expect(spool.push({ stream: 'stdout', line: `line ${String(i).padStart(5, '0')}` })).toBe(true);
  expect(spool.push({ stream: 'stdout', line: 'one too many' })).toBe(false);
  expect(spool.take(2, Infinity).map((l) => l.line)).toEqual(['line 00000', 'line 00001']);
  expect(spool.push({ stream: 'stderr', line: 'room again' })).toBe(true);
  expect(spool.take(10, Infinity).map((l) => l.line)).toEqual([
    'line 00002',
    'line 00003',
    'line 00004',
    'room again',
  ]);
  expect(readdirSync(dir)).toEqual([]); // the file was unlinked as soon as it was opened
  spool.close();
});

it('OutgoingLines keeps order across the window and the spool, and a dropped run becomes one notice', () => {
  const queue = new OutgoingLines({
    windowLines: 10,
    windowBytes: 1e9,
    spoolDir: dir,
    spoolMaxBytes: 10 * 12,
  });
  const results: boolean[] = [];
  for (let i = 0; i < 30; i++)
    results.push(queue.push({ stream: 'stdout', line: `line ${i}`.padEnd(7) }, 'slower'));
  expect(results.filter(Boolean)).toHaveLength(20); // 10 in memory, 10 in the spool
  expect(queue.spooled).toBe(10);
  expect(queue.windowFull).toBe(true);
  const first = queue.take(15, Infinity).map((l) => l.line.trim());
  expect(first).toEqual(Array.from({ length: 15 }, (_, i) => `line ${i}`));
  queue.push({ stream: 'stdout', line: 'later' }, 'slower');
  const rest = queue.take(100, Infinity).map((l) => l.line.trim());
  expect(rest).toEqual([
    ...Array.from({ length: 5 }, (_, i) => `line ${i + 15}`),
    "[jobstream] 10 lines were dropped here: the runner's spool (120 bytes) was full while Redis stored lines more slowly than the command wrote them",
    'later',
  ]);
  queue.close();
});
