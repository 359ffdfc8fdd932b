import { describe, expect, it } from '@jest/globals';
import { MAX_LINE_BYTES } from '../runner/line-limit.js';
import { LineSplitter } from '../runner/line-splitter.js';

function split(...chunks: (string | Buffer)[]): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('splits on \\n and \\r\\n, across chunk boundaries, and keeps a last partial line', () => {
    expect(split('a\nb\r\nc', 'd\r', '\ne\n', 'tail')).toEqual(['a', 'b', 'cd', 'e', 'tail']);
  });

  it('keeps empty lines', () => {
    expect(split('a\n\n\nb\n')).toEqual(['a', '', '', 'b']);
  });

  it('shows what a terminal shows for \\r progress bars', () => {
    expect(split('10%\r20%\r', '100%\ndone\n')).toEqual(['100%', 'done']);
    expect(split('progress 50%\r')).toEqual(['progress 50%']);
  });

  it('turns invalid UTF-8 into U+FFFD and keeps multi-byte characters split across chunks', () => {
    const euro = Buffer.from('€');
    expect(
      split(Buffer.concat([euro.subarray(0, 1)]), Buffer.concat([euro.subarray(1), Buffer.from('\n')])),
    ).toEqual(['€']);
    expect(split(Buffer.from([0x61, 0xff, 0x62, 0x0a]))).toEqual(['a\uFFFDb']);
  });

  it('cuts a line of megabytes to the limit with a marker counting every byte cut', () => {
    const [line] = split('x'.repeat(3 * 1024 * 1024) + '\n');
    const match = / \[truncated (\d+) bytes\]$/.exec(line!);
    expect(match).not.toBeNull();
    expect(match!.index + Number(match![1])).toBe(3 * 1024 * 1024);
    expect(Buffer.byteLength(line!)).toBeLessThanOrEqual(MAX_LINE_BYTES);
  });
});
