import { PrivateRedis } from '../shared/redis/private-server.js';
import { DEFAULT_LIBRARY_CONFIG, loadLibrary } from '../shared/redis/library.js';
import * as scenarios from './bench/scenarios.js';
console.log('a');
const redis = await PrivateRedis.start();
console.log('b');
await loadLibrary(redis.client(), DEFAULT_LIBRARY_CONFIG);
console.log('c');
const rows = await scenarios.fanout(redis.client(), redis.url, {
  scenario: 'x',
  sockets: 20,
  jobs: 2,
  jobsPerSocket: 1,
  ratesPerJob: [5],
  seconds: 1,
  servers: ['relay'],
});
console.log(rows);
await redis.stop();
