// node-kvm-qemu loads at start only what running a machine needs: the HMP
// monitor (and readline), the -nographic multiplexer and the help and version
// texts load when a command line asks for them (start-up speed, issue 12's
// bench). Observed in a child process: what the entry module pulls in.
import { spawnSync } from 'child_process';
import { ROOT, runChild } from '../helpers/child';

const LAZY = ['lib/qemu/hmp.ts', 'lib/qemu/mux.ts', 'lib/qemu/help.ts', 'lib/package-version.ts'];

test('requiring the entry loads none of the monitor, the multiplexer or the help texts', () => {
  const r = runChild(`
    require('./lib/qemu/node-kvm-qemu.ts');
    const root = process.cwd() + '/';
    const loaded = Object.keys(require.cache).filter((f) => f.startsWith(root)).map((f) => f.slice(root.length));
    console.log(JSON.stringify({ loaded, machine: loaded.includes('lib/machine.ts') }));
  `);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { loaded: string[]; machine: boolean };
  expect(out.machine).toBe(true); // the machine's own modules are there
  expect(out.loaded.filter((f) => LAZY.includes(f))).toEqual([]);
});

test('-version and -help still print their texts (their modules load on demand)', () => {
  const r = runChild(`
    const { qemuMain } = require('./lib/qemu/main.ts');
    const out = [];
    const stdout = { write: (s) => { out.push(s); return true; } };
    (async () => {
      const v = await qemuMain(['-version'], { progName: 'node-kvm-qemu', stdout, stderr: stdout, launch: async () => 99 });
      const h = await qemuMain(['-help'], { progName: 'node-kvm-qemu', stdout, stderr: stdout, launch: async () => 99 });
      console.log(JSON.stringify({ v, h, text: out.join('') }));
    })();
  `);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { v: number; h: number; text: string };
  expect([out.v, out.h]).toEqual([0, 0]);
  expect(out.text).toMatch(/QEMU emulator version 7\.2/);
  expect(out.text).toMatch(/usage: node-kvm-qemu/);
});

test('requiring the library (dist/index.js) loads none of the slow builtins its hot path does not need', () => {
  // crypto (snapshot files' SHA-256) ~6 ms, v8, net (gdb, sockets), readline (the monitor), child_process
  const r = spawnSync(process.execPath, ['-e', `
    const before = new Set(process.moduleLoadList);
    require('./dist/index.js');
    console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13))));
  `], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const loaded = JSON.parse(r.stdout) as string[];
  expect(loaded.length).toBeGreaterThan(0); // os, at least: the list is observed
  expect(loaded.filter((m) => ['crypto', 'v8', 'net', 'readline', 'child_process', 'worker_threads'].includes(m))).toEqual([]);
});
