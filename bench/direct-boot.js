'use strict';
// Direct kernel boot without firmware, node-kvm against QEMU on the same
// host: the time from process start to the kernel's first serial line, for
// a multiboot and a PVH kernel (test/guests/multiboot-mbi.S and
// pvh-start-info.S, built here with as/ld). node-kvm runs the microvm
// machine through node-kvm-qemu with QEMU's command line, and through the
// library (bench/lib/microvm-boot.js, what a user's runner does, with its
// phases); QEMU runs `-M microvm -kernel` (qboot loads the kernel).
// Alternating rounds; the median of each is printed, and the ratio.
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
function once(cmd) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
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
        'node-kvm-qemu': [path.join(__dirname, '..', 'bin', 'node-kvm-qemu'), ...args],
        library: [process.execPath, path.join(__dirname, 'lib', 'microvm-boot.js'), kernel],
        qemu: [QEMU, ...args],
      };
      const t = { 'node-kvm-qemu': [], library: [], qemu: [] };
      let phases = '';
      for (let r = 0; r < ROUNDS; r++) {
        for (const [who, cmd] of Object.entries(runs)) {
          const o = await once(cmd);
          t[who].push(o.ms);
          if (who === 'library') phases = o.err.trim();
        }
      }
      const q = median(t.qemu);
      for (const who of ['node-kvm-qemu', 'library']) {
        const a = median(t[who]);
        console.log(`${name}: ${who} ${a.toFixed(1)} ms, QEMU -M microvm ${q.toFixed(1)} ms to the first serial line (median of ${ROUNDS}); ratio ${(a / q).toFixed(2)}; target < 100 ms: ${a < 100 ? 'met' : 'NOT met'}`);
      }
      console.log(`  the library's process (last round): ${phases}`);
    }
    const node = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint();
      execFileSync(process.execPath, ['-e', '0']);
      node.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    console.log(`node -e 0 (Node's own start and exit): ${median(node).toFixed(1)} ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
