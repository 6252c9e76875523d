/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/test/support/env.ts'],
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
  testTimeout: 60000,
  // Jest's default is cores - 1 (one worker here); the suites spend much of their time waiting on
  // child processes, sockets and esbuild, so two workers on two cores finish ~25% sooner.
  maxWorkers: 2,
};
