'use strict';
// Lets a child process or a Worker started by a test require the library's
// TypeScript sources (node -r test/helpers/register-ts.js, or require() it
// first in a Worker's eval code): .ts files are transpiled on load with
// @swc/core, the transpiler jest uses.
const swc = require('@swc/core');

require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformFileSync(filename, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
