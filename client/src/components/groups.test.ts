import { describe, expect, it } from '@jest/globals';
import type { ViewLine } from '../../../packages/client/src/index.js';
import { groupsHolding, groupsOf, openByDefault, visibleLines } from './groups.js';

const lines = (...texts: string[]): ViewLine[] =>
  texts.map((line, i) => ({
    seq: i + 1,
    ts: i * 1000,
    stream: line.startsWith('ERR') ? 'stderr' : 'stdout',
    line,
    spans: [],
  }));

describe('groups', () => {
  const log = lines(
    '::group::outer', // 1
    'a', // 2
    '::group::inner', // 3
    'b', // 4
    '::endgroup::', // 5
    'c', // 6
    '::endgroup::', // 7
    'after', // 8
    '::group::failing', // 9
    'ERR boom', // 10
    '::endgroup::', // 11
    '::group::running', // 12
    'd', // 13
  );
  const groups = groupsOf(log);
  const texts = (open: (h: number) => boolean) => visibleLines(log, open).map((l) => l.line);

  it('tracks nesting, counts, durations and errors', () => {
    expect(groups.get(1)).toMatchObject({ end: 7, lines: 4, parents: [] });
    expect(groups.get(3)).toMatchObject({ end: 5, lines: 1, parents: [1] });
    expect(groups.get(9)).toMatchObject({ hasError: true });
    expect(groups.get(12)).toMatchObject({ end: null, lines: 1 });
    expect([...groups.values()].map(openByDefault)).toEqual([false, false, true, true]);
  });

  it('hides a closed group’s body with its nested groups, and never shows end markers', () => {
    expect(texts((h) => openByDefault(groups.get(h)!))).toEqual([
      '::group::outer',
      'after',
      '::group::failing',
      'ERR boom',
      '::group::running',
      'd',
    ]);
    // Outer open, inner closed: the line after the inner group is not swallowed.
    expect(texts((h) => h !== 3)).toEqual([
      '::group::outer',
      'a',
      '::group::inner',
      'c',
      'after',
      '::group::failing',
      'ERR boom',
      '::group::running',
      'd',
    ]);
  });

  it('finds the groups holding a line', () => {
    expect(groupsHolding(groups, 4)).toEqual([1, 3]);
    expect(groupsHolding(groups, 8)).toEqual([]);
    expect(groupsHolding(groups, 13)).toEqual([12]);
  });
});
