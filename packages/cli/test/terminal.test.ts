/** How the CLI writes to a terminal, a file and a pipe (pure: streams are collected in memory). */
import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import type { JobEvent } from '../../client/src/index.js';
import { printEvent } from '../src/logs.js';
import { colorWanted, Printer } from '../src/terminal.js';

function streams(tty: boolean, columns = 20) {
  const out = Object.assign(new PassThrough(), { isTTY: tty, columns });
  const err = new PassThrough();
  const text = (s: PassThrough) => String(s.read() ?? '');
  return { out, err, read: () => ({ out: text(out), err: text(err) }) };
}

const output = (seq: number, line: string): JobEvent => ({
  type: 'output',
  jobId: 'j',
  lines: [{ seq, ts: 0, stream: 'stdout', line }],
});
const progress = (line: string): JobEvent => ({
  type: 'progress',
  jobId: 'j',
  afterSeq: 1,
  stream: 'stdout',
  line,
});

describe('Printer', () => {
  it('on a terminal, shows a line still being written in place, cut to the width, replaced by the next', () => {
    const { out, err, read } = streams(true);
    const printer = new Printer(false, false, out, err);
    printEvent(printer, 'j', output(1, 'downloading'));
    printEvent(printer, 'j', progress('[####      ] 40% of a very long progress line'));
    printEvent(printer, 'j', progress('[########  ] 80%'));
    printEvent(printer, 'j', output(2, 'downloaded'));
    printEvent(printer, 'j', progress('waiting'));
    printEvent(printer, 'j', { type: 'done', jobId: 'j', status: 'success', lastSeq: 2 });
    expect(read().out).toBe(
      'downloading\n' +
        '\r\x1b[K[####      ] 40% of' +
        '\r\x1b[K[########  ] 80%' +
        '\r\x1b[Kdownloaded\n' +
        '\r\x1b[Kwaiting' +
        '\r\x1b[K',
    );
  });

  it('on a terminal that does not say its width, takes 80 columns, never cutting a character', () => {
    const { out, err, read } = streams(true, 0);
    const printer = new Printer(false, false, out, err);
    const bar = `Downloading [${'#'.repeat(58)}] 100% 🚀 done`; // the rocket is character 79
    printEvent(printer, 'j', progress(bar));
    expect(read().out).toBe(`\r\x1b[KDownloading [${'#'.repeat(58)}] 100% 🚀`);
  });

  it('to a file or a pipe, writes stored lines only, with colours removed unless asked for', () => {
    const { out, err, read } = streams(false);
    const plain = new Printer(false, false, out, err);
    printEvent(plain, 'j', progress('40%'));
    printEvent(plain, 'j', output(1, '\x1b[32mok\x1b[0m'));
    expect(read().out).toBe('ok\n');
    const colored = new Printer(true, false, out, err);
    printEvent(colored, 'j', output(2, '\x1b[32mok\x1b[0m'));
    expect(read().out).toBe('\x1b[32mok\x1b[0m\n');
  });

  it('says a gap on stderr, keeping stdout the log', () => {
    const { out, err, read } = streams(false);
    printEvent(new Printer(false, false, out, err), 'j', {
      type: 'gap',
      jobId: 'j',
      fromSeq: 1,
      toSeq: 30_007,
      reason: 'trimmed',
    });
    expect(read()).toEqual({ out: '', err: expect.stringContaining('lines 1–30,007 are gone') });
  });
});

describe('colorWanted', () => {
  const tty = { isTTY: true } as NodeJS.WriteStream;
  const pipe = { isTTY: false } as NodeJS.WriteStream;
  it('follows --color/--no-color, then NO_COLOR, then whether stdout is a terminal', () => {
    expect(colorWanted(undefined, tty, {})).toBe(true);
    expect(colorWanted(undefined, pipe, {})).toBe(false);
    expect(colorWanted(undefined, tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted(true, pipe, { NO_COLOR: '1' })).toBe(true);
    expect(colorWanted(false, tty, {})).toBe(false);
  });
});
