#!/usr/bin/env node
'use strict';
// Runs a TypeScript example without a build step:
//   node scripts/run-example.js examples/hello.ts
// .ts files (the example and the library it imports from ../lib) are
// transpiled on load with @swc/core, the same transpiler the tests use.
const path = require('path');
const swc = require('@swc/core');

require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformFileSync(filename, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node scripts/run-example.js examples/<name>.ts\n');
  process.exit(64);
}
const example = require(path.resolve(file));
Promise.resolve(example.main()).then(
  (code) => process.exit(typeof code === 'number' ? code : 0),
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
