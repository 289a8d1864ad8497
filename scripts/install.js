#!/usr/bin/env node
'use strict';
// `npm install`'s step for the addon. Uses the prebuilt binary in prebuilds/
// when one matches this platform and Node and loads here (node-gyp-build's own
// resolution, as the library does at run time); otherwise compiles the addon
// with cmake-js. Quiet unless it fails: one line says what it does, and the
// compiler's output is shown only when the build fails. Then the startup
// snapshot of bin/'s executables (scripts/build-snapshot.js), best effort.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const target = `${process.platform}-${process.arch} with Node ${process.version} (ABI ${process.versions.modules}, Node-API ${process.versions.napi})`;

/** The prebuild that fits and loads, or why there is none. */
function findPrebuild() {
  process.env.PREBUILDS_ONLY = '1'; // a build/ left by an earlier compile is rebuilt, not trusted
  const nodeGypBuild = require(require.resolve('node-gyp-build', { paths: [root] }));
  let file;
  try {
    file = nodeGypBuild.resolve(root);
  } catch {
    return { why: `no prebuilt binary for ${target}` };
  }
  try {
    require(file); // e.g. a libstdc++ older than the one it was built against
  } catch (err) {
    return { why: `the prebuilt binary ${path.relative(root, file)} does not load here (${String(err.message).split('\n')[0]})` };
  }
  return { file };
}

/** The startup snapshot for this Node, when dist/ is there (a packed tarball; a checkout builds it in `prepare`, after tsc). */
function buildSnapshot() {
  if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) return;
  spawnSync(process.execPath, [path.join(__dirname, 'build-snapshot.js'), '--best-effort'], { cwd: root, stdio: 'inherit' });
}

const found = findPrebuild();
if (found.file) {
  console.log(`node-kvm: using the prebuilt binary ${path.relative(root, found.file)} for ${target}`);
  buildSnapshot();
  process.exit(0);
}

console.log(`node-kvm: ${found.why}; compiling the addon with cmake-js (needs a C++17 compiler and CMake)...`);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const started = Date.now();
const build = spawnSync(process.execPath, [cmakeJs, 'rebuild'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
if (build.status === 0) {
  console.log(`node-kvm: compiled build/Release/node_kvm.node in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  buildSnapshot();
  process.exit(0);
}
process.stderr.write(build.stdout + build.stderr);
const how = build.error ? build.error.message : build.signal ? `signal ${build.signal}` : `exit status ${build.status}`;
process.stderr.write(`\nnode-kvm: compiling the addon failed (cmake-js: ${how}); its output is above. ` +
  'Install a C++17 compiler and CMake (Debian/Ubuntu: sudo apt-get install g++ cmake), then run npm install again.\n');
process.exit(1);
