'use strict';
// Where node-kvm's time goes from process start to SeaBIOS's "No bootable
// device." on the pc machine (-m 128, the bench/pc-post.js command line), in
// one process: Node's start-up until this script runs, loading node-kvm-qemu's
// modules, Machine.createSync, then the POST split into time inside KVM_RUN
// (the guest, the kernel's emulator, in-kernel devices) and JavaScript time
// per exit kind (each device's port I/O or MMIO, counted), and the rest (run
// slices, the event loop). The run loop's handlers are wrapped here to time
// them; nothing in lib/ is instrumented.
//   node bench/pc-post-profile.js     (build first: npm run build:ts; needs seabios)
const t0 = performance.now();
const path = require('path');
const dist = path.join(__dirname, '..', 'dist');
require(path.join(dist, 'qemu', 'node-kvm-qemu.js')); // all the executable loads
const { Machine } = require(path.join(dist, 'machine'));
const { RunLoop } = require(path.join(dist, 'kvm', 'run-loop'));
const { Vcpu } = require(path.join(dist, 'kvm', 'vcpu'));
const tLoaded = performance.now();

const MARKER = 'No bootable device.';
let log = '';
let tFirstByte = null;
const debugconOut = { write(b) { if (tFirstByte === null) tFirstByte = performance.now(); log += Buffer.from(b).toString('latin1'); return true; } };

// Per exit kind: count and JavaScript milliseconds.
const kinds = new Map();
let kvmRunMs = 0;
let kvmRuns = 0;
function account(kind, ms) {
  const k = kinds.get(kind) ?? { count: 0, ms: 0 };
  k.count++;
  k.ms += ms;
  kinds.set(kind, k);
}
const L = require(path.join(dist, 'kvm', 'exits')).runLayout();
function wrap(proto, name, kindOf) {
  const orig = proto[name];
  proto[name] = function (...args) {
    const kind = kindOf(this);
    const s = performance.now();
    try { return orig.apply(this, args); } finally { account(kind, performance.now() - s); }
  };
}
const sectionName = (as, addr) => as.findSection(addr, 1n)?.mr.name ?? 'unassigned';
wrap(RunLoop.prototype, 'handleIo', (loop) => {
  const dv = loop.dv;
  const port = dv.getUint16(L.ioPort, true);
  const dir = loop.u8[L.ioDirection] === L.ioOut ? 'out' : 'in';
  return `pio ${dir} ${sectionName(loop.io, BigInt(port))}${dv.getUint32(L.ioCount, true) > 1 ? ' (string)' : ''}`;
});
wrap(RunLoop.prototype, 'handleMmio', (loop) => {
  const dv = loop.dv;
  const addr = (BigInt(dv.getUint32(L.mmioPhysAddr + 4, true)) << 32n) | BigInt(dv.getUint32(L.mmioPhysAddr, true));
  return `mmio ${loop.u8[L.mmioIsWrite] ? 'write' : 'read'} ${sectionName(loop.memory, addr)}`;
});
const origKvmRun = Vcpu.prototype.kvmRun;
Vcpu.prototype.kvmRun = function () {
  const s = performance.now();
  try { return origKvmRun.call(this); } finally { kvmRunMs += performance.now() - s; kvmRuns++; }
};

async function main() {
  const tCreate0 = performance.now();
  const m = Machine.createSync({ machine: 'pc', memory: '128M', serial: false, noReboot: true, debugcon: { output: debugconOut, iobase: 0x402 } });
  const tCreated = performance.now();
  try {
    while (!log.includes(MARKER)) {
      const r = await m.run({ timeoutMs: 100 });
      if (!['timeout', 'stopped', 'hlt'].includes(r.reason)) throw new Error(`POST ended with ${r.reason}: ${r.message}`);
    }
  } finally {
    m.close();
  }
  const tEnd = performance.now();
  const jsMs = [...kinds.values()].reduce((n, k) => n + k.ms, 0);
  const exits = [...kinds.values()].reduce((n, k) => n + k.count, 0);
  const f = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`process start -> this script: ${f(t0)}; loading node-kvm-qemu's modules: ${f(tLoaded - t0)}; Machine.createSync: ${f(tCreated - tCreate0)}`);
  console.log(`first debugcon byte at ${f(tFirstByte)}, "${MARKER}" at ${f(tEnd)} (from process start)`);
  console.log(`POST ${f(tEnd - tCreated)}: inside KVM_RUN ${f(kvmRunMs)} (${kvmRuns} calls), exit handlers ${f(jsMs)} (${exits} exits), rest ${f(tEnd - tCreated - kvmRunMs - jsMs)}`);
  console.log('exit kind                                  count   JS ms   us/exit');
  for (const [kind, k] of [...kinds].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`${kind.padEnd(40)} ${String(k.count).padStart(7)} ${k.ms.toFixed(1).padStart(7)} ${(1000 * k.ms / k.count).toFixed(1).padStart(9)}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
