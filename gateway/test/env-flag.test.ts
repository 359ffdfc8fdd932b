import { expect, it } from '@jest/globals';
import { envFlag } from '../../shared/env-flag.js';
import { configFromEnv } from '../src/ops/config.js';

it('reads an on/off setting one way everywhere: unset, empty, 0 and false (any case) are off', () => {
  for (const off of [undefined, '', '0', 'false', 'FALSE', 'False']) expect(envFlag(off)).toBe(false);
  for (const on of ['1', 'true', 'yes', 'on']) expect(envFlag(on)).toBe(true);
  // the gateway's configuration reads DEV_AUTH and REDIS_TLS through it (before: 'FALSE' was on)
  const config = configFromEnv({ JWT_SECRET: 'x'.repeat(32), DEV_AUTH: 'FALSE', REDIS_TLS: 'False' });
  expect(config.devAuth).toBe(false);
  expect(config.redisTls).toBe(false);
});
