// ESLint (flat config) for the TypeScript of src/, test/ and bench/: the recommended rules of
// ESLint and typescript-eslint, plus the type-aware rules that catch what bites a Node service —
// a promise nobody awaits or catches, a promise handed where a callback's result is ignored,
// `await` of a non-promise. Layout is Prettier's (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'build/', 'prebuilds/', 'node_modules/', 'native/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // A leading underscore marks a value left unused on purpose (a field dropped from a copy, a required parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests match terminal output: escape sequences and backspaces in their regular expressions are the point.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
