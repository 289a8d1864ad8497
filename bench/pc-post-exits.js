'use strict';
// The exits of SeaBIOS's POST on the pc machine, node-kvm against QEMU, per
// port: both run bench/pc-post.js's command line under `perf record` with
// KVM's tracepoints (kvm_pio for every port access, kvm_mmio, and
// kvm_userspace_exit for each return to the VMM), cut where the debugcon
// (port 0x402, read back from kvm_pio's values) has printed "No bootable
// device.". An access followed by a userspace exit on the same vCPU thread
// went to the VMM; the others were handled in the kernel (PIC, PIT, ...) or
// coalesced. Userspace exits after no access are run-slice ends and signals.
//   node bench/pc-post-exits.js           (root or perf_event_paranoid <= -1; needs perf, qemu, seabios)
//   node bench/pc-post-exits.js --insn    also count kvm_emulate_insn: the guest instructions the
//                                         kernel emulated (this host emulates ring 0); ~550 MB of
//                                         temporary trace per VMM, and 3x slower runs
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const MARKER = 'No bootable device.';
const QEMU = process.env.QEMU || 'qemu-system-x86_64';
const NODE_KVM_QEMU = [process.execPath, path.join(__dirname, '..', 'bin', 'node-kvm-qemu')];
const INSN = process.argv.includes('--insn');

/** bench/pc-post.js's command line, without its slot trace. */
const ARGS = ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '128', '-nodefaults', '-vga', 'none',
  '-global', 'kvm-apic.vapic=false', '-display', 'none', '-serial', 'none', '-monitor', 'none', '-no-reboot',
  '-chardev', 'stdio,id=d', '-device', 'isa-debugcon,iobase=0x402,chardev=d'];

/** Records one VMM until the marker (then stops perf, which ends its workload). */
function record(cmd, file) {
  const events = ['kvm:kvm_pio', 'kvm:kvm_mmio', 'kvm:kvm_userspace_exit', ...(INSN ? ['kvm:kvm_emulate_insn'] : [])];
  return new Promise((resolve, reject) => {
    const perf = spawn('perf', ['record', '-q', '-o', file, ...events.flatMap((e) => ['-e', e]), '--', ...cmd, ...ARGS], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let seen = false;
    const timer = setTimeout(() => perf.kill('SIGKILL'), 180_000);
    perf.stdout.on('data', (b) => {
      out += b.toString('latin1');
      if (!seen && out.includes(MARKER)) {
        seen = true;
        setTimeout(() => perf.kill('SIGINT'), 200);
      }
    });
    perf.stderr.on('data', (b) => { err += b; });
    perf.on('exit', () => {
      clearTimeout(timer);
      if (!seen) reject(new Error(`${cmd[cmd.length - 1]} under perf: no "${MARKER}"; stderr: ${err.slice(-2000)}`));
      else resolve();
    });
  });
}

/** Ports the kernel serves with an in-kernel irqchip and PIT (both VMMs use them): a read of one never exits. */
const KERNEL_PORTS = new Set([0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x4d0, 0x4d1]);

/**
 * Userspace exits per access kind, in-kernel accesses, and emulated
 * instructions, up to the marker. KVM traces a write (and an MMIO read it
 * cannot satisfy) before the exit it causes, but a port read only when its
 * value is there: after the exit, on the next KVM_RUN, when the VMM served
 * it. So an exit followed at once by the read of a port the kernel does not
 * serve is that read's, and a write just before it did not exit (QEMU
 * coalesces its RTC index writes, port 0x70).
 */
function count(file) {
  const r = spawnSync('perf', ['script', '-i', file, '-F', 'tid,event,trace'], { maxBuffer: 1 << 30, encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`perf script: ${r.stderr}`);
  const toVmm = new Map();
  const inKernel = new Map();
  const NO_ACCESS = '(no access: slice end, signal)';
  // per thread: the access traced last and not yet placed, and an exit not yet placed (with the access it may be for)
  const threads = new Map();
  let debugcon = '';
  let insn = 0;
  const bump = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
  /** Places what the thread left open: the access went to the kernel; the exit was the access's, or no access's. */
  const settle = (t) => {
    if (t.exited) bump(toVmm, t.pending ?? NO_ACCESS);
    else if (t.pending !== null) bump(inKernel, t.pending);
    t.pending = null;
    t.exited = false;
  };
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+kvm:(\w+):\s*(.*)$/.exec(line);
    if (m === null) continue;
    const [, tid, event, trace] = m;
    if (event === 'kvm_emulate_insn') { insn++; continue; }
    let t = threads.get(tid);
    if (t === undefined) threads.set(tid, t = { pending: null, exited: false, satisfying: false });
    if (event === 'kvm_userspace_exit') {
      if (t.exited) settle(t); // two exits in a row: the first was the pending access's (or none's)
      t.exited = true;
      continue;
    }
    if (event === 'kvm_mmio') {
      const kind = /^mmio (\S+)/.exec(trace)?.[1] ?? '?';
      // the completion of a read that exited (counted with its exit)
      if (kind === 'read' && t.satisfying) { t.satisfying = false; continue; }
      settle(t);
      if (kind === 'read') bump(inKernel, 'mmio read');
      else { t.pending = `mmio ${kind}`; t.satisfying = kind === 'unsatisfied-read'; }
      continue;
    }
    const pio = /pio_(read|write) at (0x[0-9a-f]+) size (\d+) count (\d+)(?: val (0x[0-9a-f]+))?/.exec(trace);
    if (pio === null) continue;
    const [, dir, port, size, n, val] = pio;
    const key = `${dir === 'read' ? 'in ' : 'out'} ${port.padStart(6)}/${size}${n !== '1' ? ' (string)' : ''}`;
    if (dir === 'read' && t.exited && !KERNEL_PORTS.has(Number(port))) {
      if (t.pending !== null) bump(inKernel, t.pending);
      bump(toVmm, key);
      t.pending = null;
      t.exited = false;
    } else {
      settle(t);
      if (dir === 'read') bump(inKernel, key);
      else t.pending = key;
    }
    if (dir === 'write' && port === '0x402' && val !== undefined) {
      debugcon += String.fromCharCode(Number(val) & 0xff);
      if (debugcon.endsWith(MARKER)) break;
    }
  }
  for (const t of threads.values()) settle(t);
  return { toVmm, inKernel, insn, complete: debugcon.endsWith(MARKER) };
}

async function main() {
  const probe = spawnSync('perf', ['list', 'kvm:kvm_pio'], { encoding: 'utf8' });
  if (probe.status !== 0 || !probe.stdout.includes('kvm:kvm_pio')) {
    // `npm run bench` runs every bench: without perf this one has nothing to measure
    console.log('pc-post-exits: skipped, needs perf with the kvm:* tracepoints (linux-perf, and root or perf_event_paranoid -1)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-bench-exits-'));
  try {
    const res = {};
    for (const [key, cmd] of [['qemu', [QEMU]], ['nodeKvm', NODE_KVM_QEMU]]) {
      const file = path.join(dir, `${key}.data`);
      await record(cmd, file);
      res[key] = count(file);
      fs.rmSync(file, { force: true });
      if (!res[key].complete) throw new Error(`${key}: the trace does not reach "${MARKER}" (lost events?)`);
    }
    const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
    console.log(`pc -m 128 POST up to "${MARKER}": exits to the VMM node-kvm ${total(res.nodeKvm.toVmm)}, QEMU ${total(res.qemu.toVmm)}`);
    if (INSN) console.log(`instructions the kernel emulated: node-kvm ${res.nodeKvm.insn}, QEMU ${res.qemu.insn}`);
    const keys = [...new Set([...res.qemu.toVmm.keys(), ...res.nodeKvm.toVmm.keys(), ...res.qemu.inKernel.keys(), ...res.nodeKvm.inKernel.keys()])];
    const row = (k) => [res.nodeKvm.toVmm.get(k) ?? 0, res.qemu.toVmm.get(k) ?? 0, res.nodeKvm.inKernel.get(k) ?? 0, res.qemu.inKernel.get(k) ?? 0];
    keys.sort((a, b) => Math.max(...row(b)) - Math.max(...row(a)));
    console.log(`${'access'.padEnd(34)} ${'to VMM: node-kvm'.padStart(16)} ${'QEMU'.padStart(6)}   ${'in kernel: node-kvm'.padStart(19)} ${'QEMU'.padStart(6)}`);
    for (const k of keys) {
      const [a, b, c, d] = row(k);
      const mark = a !== b || c !== d ? '  *' : '';
      console.log(`${k.padEnd(34)} ${String(a).padStart(16)} ${String(b).padStart(6)}   ${String(c).padStart(19)} ${String(d).padStart(6)}${mark}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
