'use strict';
// Tests are TypeScript, transpiled by SWC (type-checking is a separate `npm run typecheck`).
// KVM tests share one host with two cores: run files in two workers at most.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  maxWorkers: 2,
  // Stops the run, once and with advice, where /dev/kvm exists but cannot be opened.
  globalSetup: '<rootDir>/test/helpers/kvm-global-setup.ts',
  testTimeout: 60000,
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    }],
  },
};
