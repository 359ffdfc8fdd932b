import { describe, expect, it } from '@jest/globals';
import { ownPart, sharedStart } from './titles.js';

describe('titles across a room', () => {
  it('takes out the start a matrix shares, at a word end, so what differs shows', () => {
    const titles = [
      'Matrix job 59 (node 18, ubuntu)',
      'Matrix job 59 (node 20, ubuntu)',
      'Matrix job 59 (node 22, macos)',
    ];
    const start = sharedStart(titles);
    expect(start).toBe('Matrix job 59 (node ');
    expect(titles.map((t) => ownPart(t, start))).toEqual(['…18, ubuntu)', '…20, ubuntu)', '…22, macos)']);
  });

  it('leaves titles alone when they share little, or there is one', () => {
    expect(sharedStart(['Build web', 'Build worker'])).toBe('');
    expect(sharedStart(['Deploy production cluster'])).toBe('');
    expect(sharedStart(['Nightly integration suite', 'Nightly integration suite'])).toBe(
      'Nightly integration ',
    );
  });
});
