#!/usr/bin/env node
'use strict';
// Boots Debian's cloud kernel (linux-image-cloud-amd64) on node-kvm-qemu as
// `-kernel vmlinux -append ... -initrd ...` (the PVH entry of the
// uncompressed kernel: no decompressor to run), and optionally the same
// command line on qemu-system-x86_64, timing each run's milestones on COM1
// from process start: the banner ("Linux version"), "Kernel command line:",
// "RAMDISK:", and the last line before the time limit.
//
// Needs apt-get (to download the packages), dpkg-deb and lz4 (the bzImage's
// payload is LZ4-compressed: the vmlinux is found at the LZ4 legacy magic,
// as the kernel's scripts/extract-vmlinux finds it). Downloads go to --dir.
//
// usage: node scripts/boot-debian-kernel.js [--dir DIR] [--timeout SECONDS] [--vmm node-kvm|qemu|both] [--check]
//   --vmm: which to run (default node-kvm: node-kvm-qemu; both: it, then qemu-system-x86_64)
//   --check: exit 1 unless node-kvm-qemu's run printed all three milestones (the run stops once they are all there)
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const CHECK = args.includes('--check');
const opt = (name, dflt) => { const i = args.indexOf(name); return i < 0 ? dflt : args[i + 1]; };
const dir = path.resolve(opt('--dir', path.join(require('os').tmpdir(), 'node-kvm-debian-kernel')));
const timeoutS = Number(opt('--timeout', '180'));
/** The issue's suggestion for this host's KVM, which emulates ring 0 without cmpxchg16b, xrstor, popcnt. */
const APPEND = 'console=ttyS0 earlyprintk=ttyS0 noxsave clearcpuid=cx16,popcnt';
const MILESTONES = [['banner', /Linux version /], ['cmdline', /Kernel command line: /], ['ramdisk', /RAMDISK: /]];

function sh(cmd, argv, cwd = dir) {
  return execFileSync(cmd, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** vmlinux and an initrd in `dir`, downloaded and extracted once. */
function prepare() {
  fs.mkdirSync(dir, { recursive: true });
  const vmlinux = path.join(dir, 'vmlinux');
  const initrd = path.join(dir, 'initrd');
  if (!fs.existsSync(vmlinux)) {
    sh('apt-get', ['download', 'linux-image-cloud-amd64']);
    // the meta package depends on the versioned image package, which holds the vmlinuz
    const dep = /Depends: (linux-image-[^\s]+)/.exec(sh('apt-cache', ['depends', 'linux-image-cloud-amd64']))[1];
    sh('apt-get', ['download', dep]);
    const deb = fs.readdirSync(dir).find((f) => f.startsWith(`${dep}_`) && f.endsWith('.deb'));
    sh('dpkg-deb', ['-x', deb, 'x']);
    const vmlinuz = path.join(dir, 'x', 'boot', fs.readdirSync(path.join(dir, 'x', 'boot')).find((f) => f.startsWith('vmlinuz-')));
    const image = fs.readFileSync(vmlinuz);
    const at = image.indexOf(Buffer.from([0x02, 0x21, 0x4c, 0x18])); // LZ4 legacy frame magic
    if (at < 0) throw new Error(`${vmlinuz}: no LZ4 payload`);
    fs.writeFileSync(path.join(dir, 'payload.lz4'), image.subarray(at));
    try {
      execFileSync('lz4', ['-dcf', 'payload.lz4'], { cwd: dir, stdio: ['ignore', fs.openSync(vmlinux, 'w'), 'ignore'] });
    } catch { /* lz4 complains about the bytes after the frame; the kernel is out by then */ }
    if (fs.readFileSync(vmlinux).subarray(0, 4).toString('latin1') !== '\x7fELF') throw new Error('the LZ4 payload is not an ELF');
  }
  if (!fs.existsSync(initrd)) fs.writeFileSync(initrd, Buffer.alloc(64 * 1024, 0x5a));
  return { vmlinux, initrd };
}

/** Runs `cmd` until `timeoutS`, timestamping COM1 (stdout) lines; the milestones' times and the last line. */
function run(cmd, argv) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const seen = {};
    let last = '';
    let lastAt = 0;
    let buf = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      buf += d.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        for (const [name, re] of MILESTONES) if (seen[name] === undefined && re.test(line)) seen[name] = { ms: ms(), line };
        // --check (CI) needs only the milestones: stop there instead of running on to the int3 self-test
        if (CHECK && MILESTONES.every(([m]) => seen[m] !== undefined)) child.kill('SIGKILL');
        if (line.trim() !== '') { last = line; lastAt = ms(); }
      }
    });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ seen, last, lastAt, code, signal, stderr: stderr.trim().split('\n').slice(-3).join('\n'), totalMs: ms() });
    });
  });
}

function report(name, r) {
  process.stdout.write(`${name}: ${r.signal ? `stopped at the ${timeoutS} s limit` : `exited with status ${r.code}`} after ${(r.totalMs / 1000).toFixed(1)} s\n`);
  for (const [m] of MILESTONES) {
    const s = r.seen[m];
    process.stdout.write(`  ${m.padEnd(8)} ${s ? `${(s.ms / 1000).toFixed(2).padStart(7)} s  ${s.line.trim().slice(0, 110)}` : '  (not printed)'}\n`);
  }
  process.stdout.write(`  last     ${(r.lastAt / 1000).toFixed(2).padStart(7)} s  ${r.last.trim().slice(0, 110)}\n`);
  if (r.stderr) process.stdout.write(`  stderr: ${r.stderr.replace(/\n/g, '\n          ')}\n`);
}

async function main() {
  const { vmlinux, initrd } = prepare();
  const common = ['-m', '512', '-cpu', 'qemu64,-cx16', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
    '-kernel', vmlinux, '-append', APPEND, '-initrd', initrd];
  const vmm = opt('--vmm', 'node-kvm');
  if (!['node-kvm', 'qemu', 'both'].includes(vmm)) throw new Error(`--vmm ${vmm}: node-kvm, qemu or both`);
  if (vmm !== 'qemu') {
    const ours = await run(path.join(__dirname, '..', 'bin', 'node-kvm-qemu'), ['-accel', 'kvm', ...common]);
    report('node-kvm-qemu', ours);
    if (CHECK && MILESTONES.some(([m]) => ours.seen[m] === undefined)) process.exitCode = 1;
  }
  if (vmm !== 'node-kvm') report('qemu-system-x86_64', await run('qemu-system-x86_64', ['-accel', 'kvm', ...common]));
}

main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
