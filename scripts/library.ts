/**
 * npm run --silent library [-- --cluster]: prints the `jobstream` function library as Redis takes
 * it (one source, the default limits filled in), for runners in other languages that load it
 * themselves with `FUNCTION LOAD` when no gateway has yet.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_LIBRARY_CONFIG, librarySource } from '../shared/redis/library.js';

const { values } = parseArgs({ options: { cluster: { type: 'boolean', default: false } } });
process.stdout.write(
  librarySource({ ...DEFAULT_LIBRARY_CONFIG, eventsPublish: values.cluster ? 'spublish' : 'publish' }),
);
