#!/usr/bin/env node
'use strict';
// Smoke test of an installed or freshly built addon: loads node-kvm (the
// compiled dist/ of the package at argv[2], default: this checkout), runs the
// real-mode test guest and checks its exits. Prints which .node it loaded.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(process.argv[2] || path.join(__dirname, '..'));
const lib = require(path.join(root, 'dist'));
const { setupRealMode } = require(path.join(root, 'dist', 'x86', 'modes'));
const addon = require(require.resolve('node-gyp-build', { paths: [root] })).resolve(root);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-smoke-'));
const src = path.join(__dirname, '..', 'test', 'guests', 'add-real.S');
execFileSync('as', ['--32', '-o', path.join(tmp, 'g.o'), src]);
execFileSync('objcopy', ['-O', 'binary', '-j', '.text', path.join(tmp, 'g.o'), path.join(tmp, 'g.bin')]);
const code = fs.readFileSync(path.join(tmp, 'g.bin'));
fs.rmSync(tmp, { recursive: true });

const kvm = lib.Kvm.open();
const vm = kvm.createVm();
const ram = lib.allocateHostMemory(0x10000);
ram.bytes(0x1000, code.length).set(code);
vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memorySize: 0x10000n, userspaceAddr: ram.hostAddress });
const vcpu = vm.createVcpu(0);
setupRealMode(vcpu, { ip: 0x1000 });
const exits = [vcpu.run(), vcpu.run(), vcpu.run()];
const got = exits.map((e) => (e.reason === 'io' ? `io:${e.port.toString(16)}:${String.fromCharCode(e.data[0])}` : e.reason === 'mmio' ? `mmio:${e.address.toString(16)}` : e.reason));
vm.close();
ram.close();
kvm.close();
const want = ['io:3f8:4', 'mmio:f0000', 'hlt'];
if (JSON.stringify(got) !== JSON.stringify(want)) {
  console.error(`smoke: FAILED with ${path.relative(process.cwd(), addon)}: exits ${got.join(', ')}, expected ${want.join(', ')}`);
  process.exit(1);
}
console.log(`smoke: ok (${path.relative(process.cwd(), addon) || addon}: ${got.join(', ')})`);
