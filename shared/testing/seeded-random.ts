/** Randomness for tests that must replay: a seeded generator, and the seed to use (printed). */

/** mulberry32: a small, fast, seedable PRNG (good enough to drive a fuzzer, not for secrets). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from `variable` in the environment, or a new one; printed so a failure can be replayed. */
export function testSeed(variable: string, what: string): number {
  const seed = Number(process.env[variable] ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`${what}: seed ${seed} (replay: ${variable}=${seed})`);
  return seed;
}
