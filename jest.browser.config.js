/**
 * `npm run test:browser`: the dashboard driven in headless Chromium (playwright-core with the
 * system's chromium; tests/browser/*.test.ts). Same database set-up as `npm test`.
 */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/tests/browser'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120_000,
  maxWorkers: 1,
};
