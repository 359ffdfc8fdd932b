import { describe, expect, it } from '@jest/globals';
import { AnsiStyler } from './line-store.js';
import { applyBackspaces, extractHyperlinks, safeHref } from './terminal-text.js';

const ESC = '\u001b';
const link = (url: string, text: string, st = `${ESC}\\`) => `${ESC}]8;;${url}${st}${text}${ESC}]8;;${st}`;
const style = (text: string) =>
  new AnsiStyler()
    .style({ seq: 1, ts: 0, stream: 'stdout', line: text })
    .spans.map((s) => [s.text, s.href ?? null]);

describe('terminal text', () => {
  it('applies backspaces as a terminal does', () => {
    expect(applyBackspaces('abc\b\bXY')).toBe('aXY');
    expect(applyBackspaces('_\bw_\bo_\br_\bd')).toBe('word');
    expect(applyBackspaces('\bstart')).toBe('start');
  });

  it('turns OSC 8 hyperlinks into linked spans, with ST or BEL, inside colours', () => {
    expect(style(`see ${link('https://example.com/a', 'the docs')} now`)).toEqual([
      ['see ', null],
      ['the docs', 'https://example.com/a'],
      [' now', null],
    ]);
    expect(style(`${ESC}[31m${link('https://x.test/', 'red link', '\u0007')}${ESC}[0m tail`)).toEqual([
      ['red link', 'https://x.test/'],
      [' tail', null],
    ]);
  });

  it('drops other OSC sequences and links it should not follow', () => {
    expect(extractHyperlinks(`${ESC}]0;window title\u0007text`)).toEqual({ text: 'text', links: [] });
    expect(style(link('javascript:alert(1)', 'click'))).toEqual([['click', null]]);
    expect(safeHref('file:///etc/passwd')).toBeNull();
    expect(safeHref('https://ok.test/x')).toBe('https://ok.test/x');
  });
});
