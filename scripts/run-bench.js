#!/usr/bin/env node
'use strict';
// `npm run bench`: builds dist/ (the benches load the compiled library), then
// runs every bench/*.js in its own node process, one after the other.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const benches = fs.readdirSync(path.join(root, 'bench')).filter((f) => f.endsWith('.js')).sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== bench/${file} ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(root, 'bench', file)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${file} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
