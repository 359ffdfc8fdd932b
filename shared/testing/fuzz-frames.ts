import { seededRandom } from './seeded-random.js';

/**
 * Random and mutated client frames for fuzzing the gateway, from a seeded generator so that any
 * failure replays exactly (print the seed, pass it back). Mostly near-valid frames — the ones
 * that reach deepest into the handlers — plus garbage, wrong types, huge numbers, unknown fields
 * and binary frames; `closing()` gives the frames that end a socket (invalid UTF-8, over 64 KiB).
 */

export type FuzzFrame = { kind: 'text'; data: string } | { kind: 'bytes'; data: Buffer; binary: boolean };

const TYPES = ['subscribe', 'unsubscribe', 'watch', 'unwatch', 'auth', 'ping', 'nope', '', 'SUBSCRIBE'];
const WEIRD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  2 ** 53,
  1e308,
  -0,
  '',
  'x'.repeat(300),
  '../../etc/passwd',
  'job:{a}',
  '\u0000',
  '😀',
  [],
  {},
  { $gt: 1 },
  [1, [2, [3]]],
];

export class FrameFuzzer {
  private readonly random: () => number;

  constructor(
    readonly seed: number,
    /** Job ids the fuzzer may name (some real, so subscriptions really open). */
    private readonly jobIds: string[],
  ) {
    this.random = seededRandom(seed);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private value(): unknown {
    return this.chance(0.5) ? this.pick(WEIRD_VALUES) : Math.floor(this.random() * 1000);
  }

  /** A frame that is valid, or one mutation away from it. */
  private nearValid(): Record<string, unknown> {
    const type = this.pick(TYPES);
    const frame: Record<string, unknown> = { type };
    if (type === 'subscribe' || type === 'unsubscribe' || this.chance(0.1))
      frame.jobId = this.pick(this.jobIds);
    if (type === 'subscribe' && this.chance(0.3)) frame.since = Math.floor(this.random() * 50);
    if (type === 'subscribe' && this.chance(0.3)) frame.tail = Math.floor(this.random() * 50);
    if (type === 'watch' || type === 'unwatch') frame.topic = this.chance(0.8) ? 'jobs' : this.value();
    if (type === 'auth') frame.token = this.chance(0.5) ? 'a.b.c' : this.value();
    if (type === 'ping' && this.chance(0.7)) frame.id = this.value();
    // mutations: drop, retype or add a field
    if (this.chance(0.3)) {
      const keys = Object.keys(frame);
      const key = this.pick(keys);
      if (this.chance(0.5)) delete frame[key];
      else frame[key] = this.value();
    }
    if (this.chance(0.1)) frame[this.pick(['extra', '__proto__', 'constructor', 'jobId'])] = this.value();
    return frame;
  }

  next(): FuzzFrame {
    const roll = this.random();
    if (roll < 0.7) return { kind: 'text', data: JSON.stringify(this.nearValid()) };
    if (roll < 0.8) {
      // a valid frame cut or with a byte flipped
      const text = JSON.stringify(this.nearValid());
      const at = Math.floor(this.random() * text.length);
      return {
        kind: 'text',
        data: this.chance(0.5)
          ? text.slice(0, at)
          : text.slice(0, at) + String.fromCharCode(Math.floor(this.random() * 128)) + text.slice(at + 1),
      };
    }
    if (roll < 0.88) return { kind: 'text', data: JSON.stringify(this.value()) };
    if (roll < 0.93) {
      const bytes = Buffer.alloc(1 + Math.floor(this.random() * 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(this.random() * 256);
      return { kind: 'bytes', data: bytes, binary: true };
    }
    return { kind: 'text', data: `{"type":"ping","id":"${'['.repeat(Math.floor(this.random() * 2000))}"}` };
  }

  /** A frame that ends its socket: invalid UTF-8 (1007) or over 64 KiB (1009). */
  closing(): FuzzFrame {
    return this.chance(0.5)
      ? { kind: 'bytes', data: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), binary: false }
      : { kind: 'text', data: `{"type":"ping","id":"${'x'.repeat(70_000)}"}` };
  }
}
