'use strict';
// Shared by the benchmarks that compare node-kvm with a C baseline: the C
// program is compiled here with gcc and run as a child of this process (same
// process tree, same host load); rounds alternate C and JavaScript and keep
// the best of each.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

/** Compiles bench/c/<name>.c (with `flags`, e.g. -pthread); returns { run(args[, env]) -> parsed JSON line, cleanup() }. */
function compileC(name, flags = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `node-kvm-bench-${name}-`));
  const bin = path.join(dir, name);
  execFileSync('gcc', ['-O2', '-Wall', ...flags, '-o', bin, path.join(__dirname, '..', 'c', `${name}.c`)]);
  return {
    run: (args, env = {}) => JSON.parse(execFileSync(bin, args.map(String), { encoding: 'utf8', env: { ...process.env, ...env } })),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs `rounds` rounds of every case's `c()` and `js()` (each returns ns per op); keeps the minimum of each. */
async function bestOf(rounds, cases) {
  const best = Object.fromEntries(Object.keys(cases).map((k) => [k, { c: Infinity, js: Infinity }]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, { c, js }] of Object.entries(cases)) {
      best[k].c = Math.min(best[k].c, await c());
      best[k].js = Math.min(best[k].js, await js());
    }
  }
  return best;
}

module.exports = { compileC, bestOf };
