#!/usr/bin/env node
// The `jobstream` command. In the repository it runs the TypeScript source through tsx (always
// the code you see, no build step); an installed package runs its compiled JavaScript.
import { existsSync } from 'node:fs';

const source = new URL('../src/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/packages/cli/src/main.js');
}
