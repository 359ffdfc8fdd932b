/**
 * npm run --silent library [-- --cluster]: prints the `jobstream` function library as Redis takes
 * it (one source, the default limits filled in), for runners in other languages that load it
 * themselves with `FUNCTION LOAD` when no gateway has yet.
 */
import { readCommandLine } from './lib/cli.js';
import { DEFAULT_LIBRARY_CONFIG, librarySource } from '../shared/redis/library.js';

const HELP = {
  usage: 'usage: npm run --silent library [-- --cluster]',
  description: `
Prints the jobstream function library as Redis takes it (FUNCTION LOAD REPLACE), with the
default limits, for runners in other languages that load it themselves.

  --cluster     the Redis Cluster form (job events with SPUBLISH)
  -h, --help    this text`,
};
const { values } = readCommandLine(HELP, { options: { cluster: { type: 'boolean', default: false } } });
process.stdout.write(
  librarySource({ ...DEFAULT_LIBRARY_CONFIG, eventsPublish: values.cluster ? 'spublish' : 'publish' }),
);
