/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/setup/quiet.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  // End-to-end suites start servers on 127.0.0.1; two cores run two suites at a time.
  maxWorkers: 2,
  testTimeout: 30000,
  collectCoverageFrom: ['lambdas/core/**/*.ts'],
};
