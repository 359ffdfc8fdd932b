import { describe, expect, it } from '@jest/globals';
import { failedShards } from '../src/redis/cluster-health.js';

describe('failedShards', () => {
  it('lists primaries flagged fail that still own slots', () => {
    const nodes = [
      'a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460',
      'b2 127.0.0.1:7002@17002 master,fail - 1700000000000 0 2 connected 5461-10922',
      'c3 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383',
      'd4 127.0.0.1:7004@17004 slave,fail b2 1700000000000 0 2 connected',
      'e5 127.0.0.1:7005@17005 master,fail - 1700000000000 0 5 connected', // owns nothing
      '',
    ].join('\n');
    expect(failedShards(nodes)).toEqual([{ address: '127.0.0.1:7002', slots: '5461-10922' }]);
    expect(failedShards(nodes.replace('master,fail', 'master,fail?'))).toEqual([]); // suspected only
  });
});
