#!/usr/bin/env node
'use strict';
// Builds the startup snapshot that bin/'s launchers start Node from
// (.startup/startup.blob; scripts/snapshot-builder.js says what is in it), for
// the Node running this script: a blob is specific to one Node binary, and
// to the dist/ it was built from. Run by `npm install` (scripts/install.js,
// for a packed tarball), `prepare` and `build:ts` (after tsc).
//   node scripts/build-snapshot.js [--best-effort] [--out DIR]
// --best-effort: a failure prints one line and exits 0 (the executables then
// start the normal way); --out: build elsewhere (tests), no launcher stamp.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const bestEffort = args.includes('--best-effort');
const outAt = args.indexOf('--out');
const outDir = path.resolve(outAt >= 0 ? args[outAt + 1] : path.join(root, '.startup'));
const blob = path.join(outDir, 'startup.blob');
/** Says which Node the blob is for: its mtime is that binary's (bin/'s launcher compares them with test -nt/-ot). */
const STAMP = path.join(outDir, 'node');

function fail(why) {
  for (const f of [STAMP, blob]) fs.rmSync(f, { force: true }); // no launcher uses a blob from an earlier build
  process.stderr.write(`node-kvm: no startup snapshot (${why}); node-kvm and node-kvm-qemu start the normal way, ~65 ms slower\n`);
  process.exit(bestEffort ? 0 : 1);
}

/** The stamp: a line for people, then the Node binary's exact mtime (nanoseconds: touch -r copies them). */
function writeStamp() {
  fs.writeFileSync(STAMP, `${process.version} ${process.execPath}\n`);
  const touch = spawnSync('touch', ['-r', fs.realpathSync(process.execPath), STAMP], { encoding: 'utf8' });
  if (touch.status !== 0) fail(`touch -r failed: ${(touch.error?.message ?? touch.stderr).trim()}`);
}

if (!fs.existsSync(path.join(root, 'dist', 'qemu', 'node-kvm-qemu.js'))) fail('dist/ is not built');
fs.mkdirSync(outDir, { recursive: true });
// The old blob stops being used first: a blob and a stamp never disagree about which Node they are for.
fs.rmSync(STAMP, { force: true });
const tmp = `${blob}.${process.pid}.tmp`;
const env = { ...process.env, NODE_KVM_SNAPSHOT_ROOT: root, NODE_KVM_SNAPSHOT_DIR: outDir };
const built = spawnSync(process.execPath, ['--snapshot-blob', tmp, '--build-snapshot', path.join(__dirname, 'snapshot-builder.js')],
  { cwd: root, env, encoding: 'utf8', maxBuffer: 16 << 20 });
if (built.status !== 0) {
  fs.rmSync(tmp, { force: true });
  // Node's warnings about builtins in a builder are expected noise: the error is its message, up to its stack.
  const lines = built.stderr.split('\n');
  const from = lines.findIndex((l) => /^\w*Error\b/.test(l));
  const message = from < 0 ? [] : lines.slice(from, lines.findIndex((l, i) => i > from && /^\s+at /.test(l)));
  const why = built.error?.message ?? (message.map((l) => l.trim()).join(' ') || `exit status ${built.status}`);
  fail(`building it failed: ${why}`);
}
// A blob that cannot start this command line is no blob.
const bin = path.join(root, 'bin', 'node-kvm-qemu');
const normal = spawnSync(process.execPath, [bin, '-version'], { encoding: 'utf8' });
const fromBlob = spawnSync(process.execPath, ['--snapshot-blob', tmp, bin, '-version'],
  { encoding: 'utf8', env: { ...process.env, NODE_KVM_STARTUP_TRACE: '1' } });
if (fromBlob.status !== 0 || fromBlob.stdout !== normal.stdout || !fromBlob.stderr.includes('from the snapshot')) {
  fs.rmSync(tmp, { force: true });
  fail(`the blob does not start node-kvm-qemu -version: ${(fromBlob.stderr || fromBlob.stdout).trim().slice(0, 300)}`);
}
fs.renameSync(tmp, blob);
if (outAt < 0) writeStamp();
console.log(`node-kvm: built the startup snapshot ${path.relative(root, blob) || blob} for Node ${process.version} (${(fs.statSync(blob).size / 1e6).toFixed(1)} MB)`);
