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
let tMarker = null;
let machine = null;
// Per debugcon line: when it ended and the counters then, for the phase table.
const lines = [];
let line = '';
const debugconOut = {
  write(b) {
    if (tFirstByte === null) tFirstByte = performance.now();
    const text = Buffer.from(b).toString('latin1');
    log += text;
    for (const c of text) {
      if (c !== '\n') { line += c; continue; }
      lines.push({ text: line, t: performance.now(), ...counters() });
      line = '';
    }
    // Stop at the marker itself, not at the end of the run it came in.
    if (tMarker === null && log.includes(MARKER)) {
      tMarker = performance.now();
      machine.stop('the marker');
    }
    return true;
  },
};

// Per exit kind: count and JavaScript milliseconds.
const kinds = new Map();
let kvmRunMs = 0;
let kvmRuns = 0;
let jsMsTotal = 0;
let exitsTotal = 0;
const counters = () => ({ kvmRunMs, kvmRuns, jsMs: jsMsTotal, exits: exitsTotal });
function account(kind, ms) {
  const k = kinds.get(kind) ?? { count: 0, ms: 0 };
  k.count++;
  k.ms += ms;
  kinds.set(kind, k);
  jsMsTotal += ms;
  exitsTotal++;
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
// A KVM_RUN that returns KVM_EXIT_INTR ended a run slice (or was kicked):
// the time until the next KVM_RUN is what the slice end costs (timer re-arm,
// one event-loop turn).
const EXIT_INTR = require(path.join(dist, 'binding')).kvmConstant('KVM_EXIT_INTR');
let sliceEnds = 0;
let sliceGapMs = 0;
let intrAt = null;
const origKvmRun = Vcpu.prototype.kvmRun;
Vcpu.prototype.kvmRun = function () {
  const s = performance.now();
  if (intrAt !== null) { sliceGapMs += s - intrAt; intrAt = null; }
  let reason;
  try { reason = origKvmRun.call(this); return reason; } finally {
    const e = performance.now();
    kvmRunMs += e - s;
    kvmRuns++;
    if (reason === EXIT_INTR) { sliceEnds++; intrAt = e; }
  }
};

async function main() {
  const tCreate0 = performance.now();
  const m = machine = Machine.createSync({ machine: 'pc', memory: '128M', serial: false, noReboot: true, debugcon: { output: debugconOut, iobase: 0x402 } });
  const tCreated = performance.now();
  let tEnd;
  try {
    // one run, as node-kvm-qemu's (its default 20 ms slices), until the marker stops it
    const r = await m.run({ timeoutMs: 120_000 });
    if (tMarker === null) throw new Error(`POST ended with ${r.reason}: ${r.message}`);
    tEnd = tMarker;
  } finally {
    m.close();
  }
  const jsMs = [...kinds.values()].reduce((n, k) => n + k.ms, 0);
  const exits = [...kinds.values()].reduce((n, k) => n + k.count, 0);
  const f = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`process start -> this script: ${f(t0)}; loading node-kvm-qemu's modules: ${f(tLoaded - t0)}; Machine.createSync: ${f(tCreated - tCreate0)}`);
  console.log(`first debugcon byte at ${f(tFirstByte)}, "${MARKER}" at ${f(tEnd)} (from process start)`);
  console.log(`POST ${f(tEnd - tCreated)}: inside KVM_RUN ${f(kvmRunMs)} (${kvmRuns} calls), exit handlers ${f(jsMs)} (${exits} exits), rest ${f(tEnd - tCreated - kvmRunMs - jsMs)}`);
  console.log(`run-slice ends (KVM_EXIT_INTR): ${sliceEnds}, ${f(sliceGapMs)} from each to the next KVM_RUN (${(1000 * sliceGapMs / Math.max(1, sliceEnds)).toFixed(0)} us each)`);
  console.log('exit kind                                  count   JS ms   us/exit');
  for (const [kind, k] of [...kinds].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`${kind.padEnd(40)} ${String(k.count).padStart(7)} ${k.ms.toFixed(1).padStart(7)} ${(1000 * k.ms / k.count).toFixed(1).padStart(9)}`);
  }
  // Phases between debugcon lines (short ones folded into the next), the
  // same cut as bench/pc-post.js's timeline against QEMU.
  console.log('phase (up to the line)                        ms  KVM_RUN ms  calls  exits   JS ms  rest ms');
  let from = { t: tCreated, kvmRunMs: 0, kvmRuns: 0, jsMs: 0, exits: 0 };
  lines.push({ text: MARKER, t: tEnd, ...counters() });
  for (const [i, l] of lines.entries()) {
    const ms = l.t - from.t;
    if (ms < 8 && i < lines.length - 1) continue;
    const run = l.kvmRunMs - from.kvmRunMs;
    const js = l.jsMs - from.jsMs;
    const label = l.text.length > 40 ? `${l.text.slice(0, 38)}..` : l.text;
    console.log(`${label.padEnd(40)} ${ms.toFixed(1).padStart(7)} ${run.toFixed(1).padStart(11)} ${String(l.kvmRuns - from.kvmRuns).padStart(6)} ${String(l.exits - from.exits).padStart(6)} ${js.toFixed(1).padStart(7)} ${(ms - run - js).toFixed(1).padStart(8)}`);
    from = l;
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
