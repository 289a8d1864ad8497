'use strict';
// Direct kernel boot without firmware, node-kvm against QEMU on the same
// host: the time from process start to the kernel's first serial line, for
// a multiboot and a PVH kernel (test/guests/multiboot-mbi.S and
// pvh-start-info.S, built here with as/ld). node-kvm runs the microvm
// machine through node-kvm-qemu with QEMU's command line, executed as a user
// runs it (bin/'s launcher, from the startup snapshot when it was built) and
// the normal way (`node bin/node-kvm-qemu`, Node's loader), and through the
// library (bench/lib/microvm-boot.js, what a user's runner does, with its
// phases); QEMU runs `-M microvm -kernel` (qboot loads the kernel).
// Alternating rounds; the median of each is printed, and the ratio; then the
// floors: Node's own start (`node -e 0`) and node-kvm-qemu's start and exit
// without a guest (`-version`).
//   node bench/direct-boot.js        (build first: npm run build:ts; needs qemu-system-x86)
// Target: node-kvm's first line < 100 ms after process start.
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const QEMU = process.env.QEMU || 'qemu-system-x86_64';
const GUESTS = path.join(__dirname, '..', 'test', 'guests');

function build(dir, name, src, asFlags, ldFlags) {
  const obj = path.join(dir, `${name}.o`);
  const elf = path.join(dir, `${name}.elf`);
  execFileSync('as', [...asFlags, '-I', GUESTS, '-o', obj, path.join(GUESTS, src)]);
  execFileSync('ld', [...ldFlags, '-Ttext=0x200000', '-e', 'start', '--build-id=none', '-z', 'noseparate-code', '-o', elf, obj]);
  return elf;
}

/** Milliseconds from spawn to the first newline on stdout, and stderr. */
function once(cmd, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let ms = null;
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (b) => {
      if (ms === null && b.includes(10)) ms = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    child.stderr.on('data', (b) => { err += b; });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      if (ms === null) reject(new Error(`${cmd.join(' ')}: no serial line\n${err}`));
      else resolve({ ms, err });
    });
  });
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const BIN = path.join(__dirname, '..', 'bin', 'node-kvm-qemu');
/** The launcher's own report (NODE_KVM_STARTUP_TRACE): when main ran, ms after Node started, or null (no snapshot). */
const mainAt = (err) => { const m = /^node-kvm startup: from the snapshot, main at ([\d.]+) ms/m.exec(err); return m ? Number(m[1]) : null; };

function msOf(cmd, env = process.env) {
  const t0 = process.hrtime.bigint();
  execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore', env });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-direct-boot-'));
  try {
    const kernels = {
      multiboot: build(dir, 'mb', 'multiboot-mbi.S', ['--32'], ['-m', 'elf_i386']),
      pvh: build(dir, 'pvh', 'pvh-start-info.S', ['--32'], ['-m', 'elf_i386', '--section-start=.note.Xen=0x202000']),
    };
    for (const [name, kernel] of Object.entries(kernels)) {
      const args = ['-accel', 'kvm', '-M', 'microvm', '-m', '128', '-nodefaults', '-display', 'none', '-serial', 'stdio',
        '-device', 'isa-debug-exit,iobase=0xf4', '-no-reboot', '-kernel', kernel];
      const runs = {
        'node-kvm-qemu': [BIN, ...args],
        'node-kvm-qemu, normal path': [process.execPath, BIN, ...args],
        library: [process.execPath, path.join(__dirname, 'lib', 'microvm-boot.js'), kernel],
        qemu: [QEMU, ...args],
      };
      const t = Object.fromEntries(Object.keys(runs).map((who) => [who, []]));
      const mains = [];
      let phases = '';
      for (let r = 0; r < ROUNDS; r++) {
        for (const [who, cmd] of Object.entries(runs)) {
          const o = await once(cmd, who === 'node-kvm-qemu' ? { NODE_KVM_STARTUP_TRACE: '1' } : {});
          t[who].push(o.ms);
          if (who === 'library') phases = o.err.trim();
          if (who === 'node-kvm-qemu') mains.push(mainAt(o.err));
        }
      }
      const q = median(t.qemu);
      for (const who of Object.keys(runs).filter((w) => w !== 'qemu')) {
        const a = median(t[who]);
        console.log(`${name}: ${who} ${a.toFixed(1)} ms, QEMU -M microvm ${q.toFixed(1)} ms to the first serial line (median of ${ROUNDS}); ratio ${(a / q).toFixed(2)}; target < 100 ms: ${a < 100 ? 'met' : 'NOT met'}`);
      }
      const snap = mains.filter((m) => m !== null);
      const after = mains.map((m, r) => t['node-kvm-qemu'][r] - m);
      console.log(snap.length === mains.length
        ? `  node-kvm-qemu from the startup snapshot: main ${median(snap).toFixed(1)} ms after Node started, its first line ${median(after).toFixed(1)} ms after main (medians; spawn to main includes the launcher's sh)`
        : '  node-kvm-qemu did NOT start from the startup snapshot (not built for this Node? npm run build:ts builds it)');
      console.log(`  the library's process (last round): ${phases}`);
    }
    const floors = { 'node -e 0': [process.execPath, '-e', '0'], 'node-kvm-qemu -version': [BIN, '-version'] };
    for (const [what, cmd] of Object.entries(floors)) {
      const xs = Array.from({ length: ROUNDS }, () => msOf(cmd));
      console.log(`floor: ${what} (start and exit): ${median(xs).toFixed(1)} ms`);
    }
    // Node 20 parses NODE_EXTRA_CA_CERTS's bundle before running anything: bin/'s launcher moves it
    // aside (scripts/launch.sh); the rows that start `node` themselves (normal path, library) pay it.
    if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      const xs = Array.from({ length: ROUNDS }, () => msOf([process.execPath, '-e', '0'], env));
      console.log(`floor: node -e 0 without NODE_EXTRA_CA_CERTS (set here: the normal-path and library rows pay for it): ${median(xs).toFixed(1)} ms`);
    }
    console.log(`host: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} load average, ${os.cpus().length} CPUs`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
