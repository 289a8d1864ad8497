'use strict';
// Tests are TypeScript, transpiled by SWC (type-checking is a separate `npm run typecheck`).
// KVM tests share one host with two cores: run files in two workers at most.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  maxWorkers: 2,
  testTimeout: 60000,
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    }],
  },
};
