import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'client/dist/',
      'dist/',
      'packages/*/dist/',
      'coverage/',
      '.tmp/',
      'bench-results/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The packages' launchers are plain JavaScript run by Node.
    files: ['packages/*/bin/*.js'],
    languageOptions: { globals: { URL: 'readonly', process: 'readonly' } },
  },
  {
    // shared/*.ts (the top level) is what the dashboard may import: nothing that needs Node.
    // Node-only code lives in shared/redis/, shared/runner/ and shared/auth/.
    files: ['shared/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'ioredis', 'jsonwebtoken'], message: 'shared/*.ts must stay browser-safe' },
            {
              group: ['./redis/*', './runner/*', './auth/*'],
              message: 'shared/*.ts must stay browser-safe: Node-only modules live in the subfolders',
            },
          ],
        },
      ],
    },
  },
);
