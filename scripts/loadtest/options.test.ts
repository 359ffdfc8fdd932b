import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { newLatencyHistogram } from '../lib/load.js';
import {
  endpointUrl,
  localAddressFor,
  parseFraction,
  parsePerSecond,
  parseScenario,
  parseSeconds,
  scenarioFromCli,
} from './options.js';

describe('the target', () => {
  it('takes the endpoint as a client does, and gives a bare base URL /ws', () => {
    expect(endpointUrl('ws://host:8080/ws')).toBe('ws://host:8080/ws');
    expect(endpointUrl('ws://host:8080/jobstream/ws')).toBe('ws://host:8080/jobstream/ws');
    expect(endpointUrl('ws://host:8080')).toBe('ws://host:8080/ws');
    expect(endpointUrl('http://host:8080/')).toBe('ws://host:8080/ws');
    expect(() => endpointUrl('ftp://host')).toThrow(/ws:\/\//);
  });

  it('spreads sockets evenly over the source addresses', () => {
    const addresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const a = localAddressFor(i, addresses)!;
      counts.set(a, (counts.get(a) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([1000, 1000, 1000]);
    expect(localAddressFor(5, [])).toBeUndefined();
  });
});

describe('the scenario', () => {
  it('reads durations, rates and fractions as written', () => {
    expect([parseSeconds('20s'), parseSeconds('2m'), parseSeconds('500ms'), parseSeconds('7')]).toEqual([
      20, 120, 0.5, 7,
    ]);
    expect([parsePerSecond('2000/s'), parsePerSecond('15')]).toEqual([2000, 15]);
    expect([parseFraction('10%'), parseFraction('0.25')]).toEqual([0.1, 0.25]);
    expect(() => parseFraction('150%')).toThrow(/between/);
  });

  it('names the field that is wrong', () => {
    expect(() => parseScenario({ urls: ['ws://x'], sockets: 0, redis: 'redis://x' })).toThrow(
      /^scenario: sockets:/,
    );
    expect(() => parseScenario({ urls: ['ws://x'], sockets: 5, redis: 'redis://x', socket: 3 })).toThrow(
      /socket/,
    );
    expect(() => parseScenario({ urls: ['ws://x'], sockets: 5 })).toThrow(/scenario: redis: give --redis/);
    expect(() => parseScenario({ urls: ['ws://x'], sockets: 5, jobIds: ['ok', 'bad id'] })).toThrow(
      /scenario: jobIds\.1: a job id/,
    );
  });

  it('flags override the file and keep the old names working', () => {
    const scenario = scenarioFromCli({
      url: ['ws://a:1', 'ws://b:2/ws'],
      sockets: '300',
      redis: 'redis://127.0.0.1:6379',
      seconds: '3',
      rate: '5/s',
      stall: '10%',
    });
    expect(scenario).toMatchObject({
      urls: ['ws://a:1/ws', 'ws://b:2/ws'],
      sockets: 300,
      durationS: 3,
      ratePerJob: 5,
      stallFraction: 0.1,
      subsPerSocket: 1,
    });
  });
});

describe('histograms across workers', () => {
  it('merge exactly through their compressed form (never averaged percentiles)', () => {
    const a = newLatencyHistogram();
    const b = newLatencyHistogram();
    const both = newLatencyHistogram();
    for (let v = 1; v <= 1000; v++) {
      a.recordValue(v);
      both.recordValue(v);
    }
    for (let v = 1; v <= 10; v++) {
      b.recordValue(1_000_000 * v);
      both.recordValue(1_000_000 * v);
    }
    const merged = newLatencyHistogram();
    for (const h of [a, b]) merged.add(decodeFromCompressedBase64(encodeIntoCompressedBase64(h)));
    for (const p of [50, 90, 99, 99.9, 100])
      expect(merged.getValueAtPercentile(p)).toBe(both.getValueAtPercentile(p));
    expect(merged.totalCount).toBe(1010);
  });
});

describe('docs/loadtest.md', () => {
  it('its example scenario is one the schema accepts', () => {
    const doc = readFileSync(new URL('../../docs/loadtest.md', import.meta.url), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    expect(parseScenario(JSON.parse(example!))).toMatchObject({ sockets: 20000, processes: 2 });
  });
});
