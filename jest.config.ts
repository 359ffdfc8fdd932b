import type { Config } from 'jest';

// ESM throughout (package.json "type": "module"): ts-jest's ESM preset, run under
// `node --experimental-vm-modules`. Type checking is `tsc` in `npm test`, so ts-jest only
// transpiles, which it does because tsconfig.json sets `isolatedModules`.
const tsJest = {
  '^.+\\.tsx?$': ['ts-jest', { useESM: true }],
} satisfies Config['transform'];

// NodeNext import specifiers end in `.js`; map them back to the TypeScript source.
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };

const common = {
  transform: tsJest,
  moduleNameMapper,
  extensionsToTreatAsEsm: ['.ts', '.tsx'],
} satisfies Config;

const config: Config = {
  projects: [
    {
      ...common,
      displayName: 'node',
      testEnvironment: 'node',
      testMatch: [
        '<rootDir>/{shared,gateway,scripts}/**/*.test.ts',
        '<rootDir>/packages/cli/test/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '/e2e/'],
    },
    {
      ...common,
      displayName: 'client',
      testEnvironment: 'jsdom',
      testMatch: ['<rootDir>/client/src/**/*.test.{ts,tsx}', '<rootDir>/packages/client/src/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/client/e2e/**/*.test.ts', '<rootDir>/scripts/e2e/**/*.test.ts'],
    },
  ],
};

export default config;
