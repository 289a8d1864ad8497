#!/usr/bin/env node
'use strict';
// prebuildify calls its builder with node-gyp's arguments. cmake-js takes
// different ones (`--target` would name a CMake target), so translate: keep the
// architecture and debug flag, drop node-gyp's --target/--devdir/--release.
const { spawnSync } = require('child_process');

const args = ['rebuild'];
for (const a of process.argv.slice(2)) {
  if (a.startsWith('--arch=')) args.push('--arch', a.slice('--arch='.length));
  else if (a === '--debug') args.push('--debug');
}
const bin = require.resolve('cmake-js/bin/cmake-js', { paths: [process.cwd()] });
const r = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
