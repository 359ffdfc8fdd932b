import { describe, expect, it } from '@jest/globals';
import type { OutputLine } from '../../../shared/protocol.js';
import { LineStore, RENDER_INTERVAL_MS } from './line-store.js';

const line = (seq: number, text = `line ${seq}`): OutputLine => ({
  seq,
  ts: 1000 + seq,
  stream: 'stdout',
  line: text,
});

/** Runs scheduled notifications by hand, so a test decides when a "frame" passes. */
function manualScheduler() {
  const queue: (() => void)[] = [];
  const delays: number[] = [];
  return {
    schedule: (cb: () => void, delayMs: number) => {
      queue.push(cb);
      delays.push(delayMs);
    },
    flush: () => queue.splice(0).forEach((cb) => cb()),
    delays,
  };
}

describe('LineStore', () => {
  it('ignores seqs it already holds (a reconnect may overlap)', () => {
    const frames = manualScheduler();
    const store = new LineStore(100, frames.schedule);
    store.append([line(1), line(2), line(3)]);
    store.append([line(2), line(3), line(4)]);
    frames.flush();
    expect(store.getSnapshot().lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    expect(store.highestSeq).toBe(4);
  });

  it('caps the lines held and counts what it dropped', () => {
    const frames = manualScheduler();
    const store = new LineStore(5, frames.schedule);
    store.append(Array.from({ length: 12 }, (_, i) => line(i + 1)));
    frames.flush();
    const snapshot = store.getSnapshot();
    expect(snapshot.lines.map((l) => l.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(snapshot.dropped).toBe(7);
  });

  it('notifies once per frame however many batches arrive, with a stable snapshot in between', () => {
    const frames = manualScheduler();
    const store = new LineStore(100, frames.schedule);
    let notified = 0;
    store.subscribe(() => notified++);
    const before = store.getSnapshot();
    store.append([line(1)]);
    store.append([line(2)]);
    store.append([line(3)]);
    expect(store.getSnapshot()).toBe(before); // React sees no change until the frame
    frames.flush();
    expect(notified).toBe(1);
    expect(store.getSnapshot().lines).toHaveLength(3);
  });

  it('records gaps and moves past them', () => {
    const frames = manualScheduler();
    const store = new LineStore(100, frames.schedule);
    store.addGap({ fromSeq: 1, toSeq: 40, reason: 'trimmed' });
    store.append([line(40), line(41)]);
    frames.flush();
    expect(store.getSnapshot().gaps).toEqual([{ fromSeq: 1, toSeq: 40, reason: 'trimmed' }]);
    expect(store.getSnapshot().lines.map((l) => l.seq)).toEqual([41]);
  });

  it('holds a progress line as pending until the next output replaces it; a stale one is ignored', () => {
    const frames = manualScheduler();
    const store = new LineStore(100, frames.schedule);
    store.append([line(1, '\u001b[32mgreen'), line(2, 'Downloading')]);
    store.setPending({ afterSeq: 2, stream: 'stderr', line: ' 42% ###' });
    frames.flush();
    const pending = store.getSnapshot().pending;
    expect(pending).toMatchObject({ seq: 3, stream: 'stderr', line: ' 42% ###' });
    expect(pending!.spans[0]!.fg).toBe('#3fb950'); // the colours in effect, as the next line would have
    store.setPending({ afterSeq: 1, stream: 'stdout', line: 'stale' }); // follows an older line
    frames.flush();
    expect(store.getSnapshot().pending?.line).toBe(' 42% ###');
    store.append([line(3, ' 100% ######\u001b[0m')]);
    frames.flush();
    expect(store.getSnapshot().pending).toBeNull();
    expect(store.getSnapshot().lines.at(-1)!.spans[0]!.fg).toBe('#3fb950'); // the preview carried nothing
    store.setPending({ afterSeq: 3, stream: 'stdout', line: 'next' });
    store.clearPending();
    frames.flush();
    expect(store.getSnapshot().pending).toBeNull();
  });

  it('parses ANSI colours once and carries them to the next line until a reset', () => {
    const frames = manualScheduler();
    const store = new LineStore(100, frames.schedule);
    store.append([
      line(1, '\u001b[31mred starts'),
      line(2, 'still red'),
      line(3, '\u001b[0mplain'),
      line(4, 'plain too'),
    ]);
    frames.flush();
    const [a, b, c, d] = store.getSnapshot().lines;
    expect(a!.spans.map((s) => s.text).join('')).toBe('red starts');
    expect(a!.spans.at(-1)!.fg).toBe('#ff7b72'); // red, in the dark-background palette
    expect(b!.spans[0]!.fg).toBe(a!.spans.at(-1)!.fg);
    expect(c!.spans.every((s) => s.fg === null)).toBe(true);
    expect(d!.spans[0]!.fg).toBeNull();
    expect(a!.line).toBe('\u001b[31mred starts'); // the raw text stays for search and download
  });

  it('keeps faint, struck-through and reversed text as the tool wrote it, carried to the next line', () => {
    const frames = manualScheduler();
    const store = new LineStore(100, frames.schedule);
    store.append([
      line(1, '\u001b[2m  12 |   expect(sum(1, 2))\u001b[22m'),
      line(2, '\u001b[9mremoved\u001b[29m kept'),
      line(3, '\u001b[7m selected '),
      line(4, 'still reversed\u001b[0m plain'),
    ]);
    frames.flush();
    const [faint, struck, reversed, carried] = store.getSnapshot().lines;
    expect(faint!.spans.find((sp) => sp.text.includes('expect'))?.dim).toBe(true);
    expect(struck!.spans.map((sp) => [sp.text, sp.strikethrough])).toEqual([
      ['removed', true],
      [' kept', false],
    ]);
    expect(reversed!.spans[0]).toMatchObject({ text: ' selected ', reverse: true });
    expect(carried!.spans.map((sp) => [sp.text, sp.reverse])).toEqual([
      ['still reversed', true],
      [' plain', false],
    ]);
  });

  it('renders a streaming log at most once per render interval, and a line after quiet at once', () => {
    const frames = manualScheduler();
    let now = 1000;
    const store = new LineStore(100, frames.schedule, () => now);
    let notified = 0;
    store.subscribe(() => notified++);
    store.append([line(1)]);
    expect(frames.delays).toEqual([0]); // the first change: the next frame
    frames.flush();
    now += 16;
    store.append([line(2)]);
    // streaming: not before the interval since the last render is over
    expect(frames.delays.at(-1)).toBe(RENDER_INTERVAL_MS - 16);
    store.append([line(3)]); // coalesced into the render already scheduled
    expect(frames.delays).toHaveLength(2);
    now += RENDER_INTERVAL_MS;
    frames.flush();
    expect(notified).toBe(2);
    expect(store.getSnapshot().lines.map((l) => l.seq)).toEqual([1, 2, 3]);
    now += 5 * RENDER_INTERVAL_MS; // a quiet spell
    store.append([line(4)]);
    expect(frames.delays.at(-1)).toBe(0);
  });
});
