import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'coverage/', 'tests/artifacts/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  // A module's index.ts is its only door; modules never depend on the HTTP layer.
  {
    files: ['src/modules/*/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./[^./]+/.+', message: "Import another module through its index ('../<module>'), not its files." },
        { regex: '(^|/)modules/[^/]+/.+', message: "Import another module through its index ('../<module>'), not its files." },
        { regex: '^\\.\\./\\.\\./http(/|$)', message: 'Modules do not depend on src/http: throw AppError from src/shared/errors.' },
      ] }],
    },
  },
  {
    files: ['src/modules/*/*/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./\\.\\./[^./]+/.+', message: "Import another module through its index ('../../<module>'), not its files." },
        { regex: '(^|/)modules/[^/]+/.+', message: "Import another module through its index ('../../<module>'), not its files." },
        { regex: '^(\\.\\./)+http(/|$)', message: 'Modules do not depend on src/http: throw AppError from src/shared/errors.' },
      ] }],
    },
  },
  {
    files: ['src/*.ts', 'src/{cli,db,queue,observability,http,shared,mocks}/**/*.ts', 'bench/**/*.ts', 'chaos/**/*.ts', 'tests/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '(^|/)modules/[^/]+/.+', message: "Import a module through its index ('…/modules/<module>'), not its files." },
      ] }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
  },
);
