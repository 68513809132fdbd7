// ESLint (flat config) with typescript-eslint, type-aware: `npm run lint`. A few rules that catch real
// bugs here, not a style guide: promises nobody awaits, code nobody uses, and workflow code that
// imports what a deterministic workflow may not. Formatting is not checked (no formatter yet).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Workflow code runs in Temporal's deterministic sandbox: values only from these, types from anywhere. */
const workflowMayImport = [
  '@temporalio/workflow',
  // sibling workflow modules (each of them is checked by this same rule)
  String.raw`\./[\w.-]+\.ts`,
  // plain data with no imports (temporal.config.ts says so; the rule below keeps it so)
  String.raw`\.\./temporal\.config\.ts`,
  // pure date arithmetic shared with src/dates.ts; the typed errors and their one unwrapper (rootMessage)
  String.raw`\.\./src/business-day\.ts`,
  String.raw`\.\./src/errors\.ts`,
];

export default defineConfig(
  {
    ignores: ['node_modules/**', 'data/**', 'fixtures/histories/**', 'fixtures/**/*.json', 'coverage/**'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.eslintRecommended],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its error and its ordering; write `void p` when fire-and-forget is meant.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // No unused code. A name starting with _ says "unused on purpose" (a required parameter, a rest sibling).
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': ['error', {
        args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true,
      }],
      'no-unused-expressions': 'off',
      '@typescript-eslint/no-unused-expressions': 'error',
      'no-unused-private-class-members': 'error',
      // Types only through `import type` where nothing else is needed (keeps workflow bundles clean).
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // Deliberately empty catch blocks say why in a comment.
      'no-empty': ['error', { allowEmptyCatch: false }],
      // Input checks here match NUL and other control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    // Workflow code is deterministic: it imports only @temporalio/workflow, sibling workflow files and
    // import-free modules as values; everything else as `import type`.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          regex: `^(?!(${workflowMayImport.join('|')})$)`,
          allowTypeImports: true,
          message: 'Workflow code imports only @temporalio/workflow and import-free modules as values; use `import type` for the rest.',
        }],
      }],
    },
  },
  {
    // Imported by workflow code as a value: it must stay import-free.
    files: ['temporal.config.ts', 'src/business-day.ts', 'src/errors.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '.', message: 'Workflow code imports this file: keep it free of imports.' }] }],
    },
  },
);
