// Flat ESLint config. The TypeScript rules are the non type-checked set on purpose: linting stays
// fast enough to run before every test build, and `tsc` already does the type-level checking.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node.js globals for the plain .js/.mjs files (the `globals` package is not a dependency). */
const nodeGlobals = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Buffer',
    'TextDecoder',
    'TextEncoder',
    'URL',
    'URLSearchParams',
    'clearImmediate',
    'clearInterval',
    'clearTimeout',
    'console',
    'fetch',
    'performance',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
);

const unusedVars = [
  'error',
  {
    args: 'after-used',
    argsIgnorePattern: '^_',
    varsIgnorePattern: '^_',
    caughtErrorsIgnorePattern: '^_',
    destructuredArrayIgnorePattern: '^_',
    ignoreRestSiblings: true,
  },
];

export default defineConfig(
  globalIgnores([
    '**/node_modules/',
    '.tmp/',
    'build/',
    'dist/',
    'docs/api/',
    'coverage/',
    'bench/results/',
  ]),

  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: nodeGlobals,
    },
    rules: {
      'no-unused-vars': unusedVars,
    },
  },

  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': unusedVars,
      // `any` is only banned where it can leak into the public API (see the lib/** block below).
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },

  {
    files: ['lib/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },

  {
    // The core engine must load without Nest: `nestjs-stormsocket/core` imports no @nestjs/* module.
    files: ['lib/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', '@nestjs/*/**'],
              message:
                'lib/core is framework-free: move Nest-dependent code to lib/nest, lib/microservice or lib/cluster.',
            },
          ],
        },
      ],
      // no-restricted-imports does not see `import()` expressions.
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportExpression > Literal[value=/^@nestjs\\u002F/]",
          message: 'lib/core is framework-free: no dynamic import of @nestjs/* either.',
        },
      ],
    },
  },
);
