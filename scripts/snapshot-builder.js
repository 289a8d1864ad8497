'use strict';
// The entry of `node --build-snapshot`, run by scripts/build-snapshot.js (not
// by hand): evaluates dist/ into the heap that becomes the startup blob, and
// sets the function that runs when bin/'s launcher starts Node from it.
//
// Node's CommonJS loader cannot be used here (a createRequire in the builder
// makes the deserialized process assert), so dist/ is loaded by the small
// CommonJS loader below: builtins come from the builder's own require, and
// anything from node_modules (node-gyp-build, which binding.ts requires only
// when the addon is first used) from a real require made after start.
//
// A snapshot freezes whatever a module computed while it loaded. So loading
// runs under a watch (watchHost): a module that reads the environment, the
// clock, randomness, the host (os, fs, the cwd) or the process's streams at
// load time fails the build, naming the module; such state belongs in a
// function, or in lib/util/process-start.ts's atProcessStart.
const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');

const root = process.env.NODE_KVM_SNAPSHOT_ROOT;
const outDir = process.env.NODE_KVM_SNAPSHOT_DIR;
const dist = path.join(root, 'dist');
const { readFileSync, statSync, realpathSync } = fs; // the loader's own, not watched

/** Every file the loader read, with what identifies its content at build time. */
const sources = [];
const cache = new Map();
const loading = [];
let outsideRequire = null; // set at start: the real createRequire, for node_modules
const builtinRequire = require;

function isBuiltin(id) {
  try {
    builtinRequire(id);
    return true;
  } catch {
    return false;
  }
}

function resolveFile(p) {
  for (const f of [p, `${p}.js`, `${p}.json`, path.join(p, 'index.js')]) {
    try {
      if (statSync(f).isFile()) return f;
    } catch { /* the next candidate */ }
  }
  throw Object.assign(new Error(`Cannot find module '${p}'`), { code: 'MODULE_NOT_FOUND' });
}

function load(file) {
  const cached = cache.get(file);
  if (cached) return cached.exports;
  const module = { exports: {}, id: file, filename: file, loaded: false };
  cache.set(file, module);
  const text = readFileSync(file, 'utf8');
  const st = statSync(file);
  sources.push({ file, size: st.size, mtimeMs: st.mtimeMs });
  loading.push(path.relative(root, file));
  try {
    if (file.endsWith('.json')) {
      module.exports = JSON.parse(text);
    } else {
      const dir = path.dirname(file);
      // The wrapper Node's loader uses, with the file's name: stack traces name dist/ files as usual.
      const fn = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${text}\n})`, { filename: file });
      fn.call(module.exports, module.exports, makeRequire(dir), module, file, dir);
    }
  } finally {
    loading.pop();
  }
  module.loaded = true;
  return module.exports;
}

function makeRequire(dir) {
  return function require(id) {
    if (id.startsWith('./') || id.startsWith('../') || path.isAbsolute(id)) return load(resolveFile(path.resolve(dir, id)));
    if (isBuiltin(id)) return builtinRequire(id);
    if (!outsideRequire) throw new Error(`${id} cannot be loaded while the startup snapshot is built`);
    return outsideRequire(path.join(dir, 'index.js'))(id);
  };
}

/** Runs `fn` with reads of host and process state recorded; returns what was read, by module. */
function watchHost(fn) {
  const seen = [];
  const note = (what) => seen.push(`${loading[loading.length - 1] ?? '?'} reads ${what} at load time`);
  const undo = [];
  const wrap = (obj, key, name) => {
    const orig = obj[key];
    if (typeof orig !== 'function') return;
    obj[key] = function (...args) { note(name); return orig.apply(this, args); };
    undo.push(() => { obj[key] = orig; });
  };
  wrap(Date, 'now', 'Date.now()');
  wrap(Math, 'random', 'Math.random()');
  wrap(performance, 'now', 'performance.now()');
  for (const k of ['hrtime', 'cwd', 'uptime', 'memoryUsage', 'cpuUsage', 'umask', 'getuid', 'geteuid']) wrap(process, k, `process.${k}()`);
  wrap(process.hrtime, 'bigint', 'process.hrtime.bigint()');
  const os = builtinRequire('os');
  for (const k of Object.keys(os)) if (typeof os[k] === 'function') wrap(os, k, `os.${k}()`);
  for (const k of Object.keys(fs)) if (typeof fs[k] === 'function' && /Sync$|^(open|read|stat|access|exists)/.test(k)) wrap(fs, k, `fs.${k}()`);
  const env = process.env;
  process.env = new Proxy(env, {
    get: (t, k) => { note(`process.env.${String(k)}`); return t[k]; },
    has: (t, k) => { note(`process.env.${String(k)}`); return k in t; },
    ownKeys: (t) => { note('process.env (all of it)'); return Reflect.ownKeys(t); },
  });
  undo.push(() => { process.env = env; });
  for (const k of ['stdin', 'stdout', 'stderr', 'argv', 'execArgv']) {
    const d = Object.getOwnPropertyDescriptor(process, k);
    Object.defineProperty(process, k, { configurable: true, enumerable: d.enumerable, get() { note(`process.${k}`); return d.get ? d.get.call(process) : d.value; } });
    undo.push(() => Object.defineProperty(process, k, d));
  }
  try {
    fn();
  } finally {
    for (const u of undo.reverse()) u();
  }
  return seen;
}

// What the snapshot holds: the library and each executable's entry, by the
// name of its bin/ file (each calls what its bin/ file calls).
const entries = {
  'node-kvm': () => load(path.join(dist, 'cli.js')).cli(),
  'node-kvm-qemu': () => load(path.join(dist, 'qemu', 'node-kvm-qemu.js')).main(),
};
// lib/util/process-start.ts's atProcessStart defers its work to the start when this is there.
const AT_START = Symbol.for('node-kvm.startup-snapshot.at-start');
const atStart = (globalThis[AT_START] = []);
// Compiled eagerly: with V8's default (lazy) compilation a function gets its
// bytecode only when first called, so every function a start calls for the
// first time would be compiled in each process; compiled here, the bytecode
// is in the blob (~1 MB more; ~10-15 ms less CPU per microvm boot here). Set
// at run time, not as the builder's command-line flag: a flag on the command
// line is part of the blob's V8 configuration, which then refuses to start a
// plain `node --snapshot-blob`.
v8.setFlagsFromString('--no-lazy');
const readsAtLoad = watchHost(() => {
  for (const f of ['index.js', 'cli.js', 'qemu/node-kvm-qemu.js']) load(path.join(dist, f));
});
delete globalThis[AT_START];
if (readsAtLoad.length > 0) {
  throw new Error(`the startup snapshot would freeze host state:\n  ${[...new Set(readsAtLoad)].join('\n  ')}`);
}

// Warm-up: V8 keeps the bytecode of what ran here in the blob, so pure work
// on the hot path (a microvm boot) runs once now, on made-up input, and is
// compiled already when a process starts. Under the same watch: none of it
// may touch the host; none of these functions keeps state between calls.
const readsInWarmUp = watchHost(() => {
  loading.push('the warm-up');
  const { parseQemuCommandLine } = load(path.join(dist, 'qemu', 'cmdline.js'));
  parseQemuCommandLine(['-accel', 'kvm', '-M', 'microvm', '-m', '128', '-nodefaults', '-display', 'none', '-serial', 'stdio',
    '-device', 'isa-debug-exit,iobase=0xf4', '-no-reboot', '-kernel', 'kernel.elf', '-append', 'x', '-initrd', 'a,b']);
  const { cpuidForModel } = load(path.join(dist, 'x86', 'cpu-models.js'));
  const { parseCpuModel } = load(path.join(dist, 'x86', 'cpu-model-parse.js'));
  cpuidForModel([], parseCpuModel('qemu64'), { apicId: 0, cpuCount: 1, tscKhz: 0 });
  const { microvmTables } = load(path.join(dist, 'machines', 'microvm', 'firmware-tables.js'));
  microvmTables({ apicIds: [0], cpuSignature: 0, cpuFeatures: 0 });
  loading.pop();
});
if (readsInWarmUp.length > 0) throw new Error(`the startup snapshot's warm-up would freeze host state:\n  ${[...new Set(readsInWarmUp)].join('\n  ')}`);

v8.setFlagsFromString('--lazy'); // what runs after the start compiles as usual

/** Whether every file this snapshot was built from is still what it was (else the blob is stale). */
function current() {
  return sources.every((s) => {
    try {
      const st = statSync(s.file);
      return st.size === s.size && st.mtimeMs === s.mtimeMs;
    } catch {
      return false;
    }
  });
}

// At start: `node --snapshot-blob BLOB SCRIPT ARGS...` from bin/'s launcher.
// The process must look as if Node had run SCRIPT (argv, execArgv); a blob
// in another place than it was built for, or over changed files, runs SCRIPT
// the normal way (Node's loader, from dist/ as it is now).
v8.startupSnapshot.setDeserializeMainFunction(() => {
  const mainAt = performance.now();
  const at = process.execArgv.indexOf('--snapshot-blob');
  const blob = at >= 0 ? path.resolve(process.execArgv[at + 1]) : '';
  if (at >= 0) process.execArgv.splice(at, 2);
  process.argv[1] = path.resolve(process.argv[1]);
  const script = realpathSync(process.argv[1]);
  const { createRequire } = builtinRequire('module');
  const start = entries[path.basename(script)];
  const ok = path.dirname(blob) === outDir && start !== undefined && current();
  if (process.env.NODE_KVM_STARTUP_TRACE) {
    process.stderr.write(`node-kvm startup: ${ok ? 'from the snapshot' : 'snapshot not valid here, normal path'}, main at ${mainAt.toFixed(1)} ms, checked at ${performance.now().toFixed(1)} ms\n`);
  }
  if (!ok) {
    createRequire(script)(script);
    return;
  }
  outsideRequire = createRequire;
  for (const init of atStart) init();
  start();
});
