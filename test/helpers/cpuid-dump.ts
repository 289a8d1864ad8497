// The CPUID dump guest (test/guests/cpuid-dump.S): the list of leaves it is
// given, the 64 KiB -bios image QEMU runs it from, a run on the raw KVM layer,
// and the dump's text form (test/fixtures/qemu-cpuid/*.txt), so that what a
// vCPU sees under node-kvm and under QEMU compare line for line.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CpuidEntry, Kvm } from '../../lib';
import { assemble } from './assemble';
import { rawGuest } from './raw-guest';

export interface CpuidLeaf { function: number; index: number }

/** One CPUID result as the guest saw it. */
export type CpuidResult = Omit<CpuidEntry, 'flags'>;

const BIOS_SIZE = 0x10000;
const RESET_VECTOR = 0xfff0;
const DEBUGCON = 0x402;
const DEBUG_EXIT = 0x501;

/**
 * The leaves a dump asks for: every basic, KVM and extended leaf QEMU 7.2 can
 * fill for these models, with the subleaves of the indexed ones.
 */
export function dumpLeaves(): CpuidLeaf[] {
  const out: CpuidLeaf[] = [];
  const subleaves = (leaf: number): number => {
    if (leaf === 0xd) return 20;
    if ([4, 7, 0xb, 0x1f, 0x8000001d].includes(leaf)) return 5;
    if ([0x12, 0x14, 0x1d].includes(leaf)) return 2;
    return 1;
  };
  const range = (from: number, to: number) => {
    for (let leaf = from; leaf <= to; leaf++) {
      for (let index = 0; index < subleaves(leaf); index++) out.push({ function: leaf >>> 0, index });
    }
  };
  range(0, 0x20);
  range(0x40000000, 0x40000011);
  out.push({ function: 0x40000100, index: 0 });
  range(0x80000000, 0x80000022);
  return out;
}

/** The guest with the list appended (u32 pairs ended by 0xffffffff). */
export function cpuidDumpCode(leaves: readonly CpuidLeaf[]): Uint8Array {
  const code = assemble('cpuid-dump.S', ['--32']);
  const out = new Uint8Array(code.length + 8 * leaves.length + 4);
  out.set(code);
  const dv = new DataView(out.buffer);
  leaves.forEach((l, i) => {
    dv.setUint32(code.length + 8 * i, l.function, true);
    dv.setUint32(code.length + 8 * i + 4, l.index, true);
  });
  dv.setUint32(code.length + 8 * leaves.length, 0xffffffff, true);
  return out;
}

/** A -bios image for QEMU: the guest at 0xf0000, a far jump to it at the reset vector. */
export function cpuidDumpBios(leaves: readonly CpuidLeaf[]): Uint8Array {
  const bios = new Uint8Array(BIOS_SIZE);
  bios.set(cpuidDumpCode(leaves));
  bios.set([0xea, 0x00, 0x00, 0x00, 0xf0], RESET_VECTOR); // jmp far 0xf000:0x0000
  return bios;
}

/** Decodes the 24-byte records the guest wrote to the debugcon. */
export function decodeCpuidDump(bytes: Uint8Array): CpuidResult[] {
  if (bytes.length % 24 !== 0) throw new Error(`a CPUID dump is 24-byte records, got ${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: CpuidResult[] = [];
  for (let at = 0; at < bytes.length; at += 24) {
    const w = (k: number) => dv.getUint32(at + 4 * k, true);
    out.push({ function: w(0), index: w(1), eax: w(2), ebx: w(3), ecx: w(4), edx: w(5) });
  }
  return out;
}

const h8 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');

/** `80000001.0: 00060fb1 00000000 00000001 2193fbfd` lines. */
export function formatCpuidDump(results: readonly CpuidResult[]): string {
  return results.map((r) => `${h8(r.function)}.${r.index}: ${h8(r.eax)} ${h8(r.ebx)} ${h8(r.ecx)} ${h8(r.edx)}\n`).join('');
}

export function parseCpuidDump(text: string): CpuidResult[] {
  return text.split('\n').filter((l) => l !== '').map((line) => {
    const m = /^([0-9a-f]{8})\.(\d+): ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8})$/.exec(line);
    if (!m) throw new Error(`not a CPUID dump line: ${line}`);
    const [fn, index, eax, ebx, ecx, edx] = [parseInt(m[1], 16), Number(m[2]), ...m.slice(3).map((x) => parseInt(x, 16))];
    return { function: fn, index, eax, ebx, ecx, edx };
  });
}

/** Runs the guest on a fresh VM whose vCPU has `table`, and returns what CPUID gave it. */
export function runCpuidDump(kvm: Kvm, table: readonly CpuidEntry[], leaves: readonly CpuidLeaf[]): CpuidResult[] {
  const guest = rawGuest(kvm, cpuidDumpCode(leaves), 'real');
  try {
    guest.vcpu.setCpuid(table);
    const bytes: number[] = [];
    for (;;) {
      const exit = guest.vcpu.run();
      if (exit.reason === 'io' && exit.direction === 'out' && exit.port === DEBUGCON) bytes.push(exit.data[0]);
      else if (exit.reason === 'io' && exit.direction === 'out' && exit.port === DEBUG_EXIT) break;
      else throw new Error(`CPUID dump guest: unexpected exit ${JSON.stringify(exit)}`);
    }
    return decodeCpuidDump(Uint8Array.from(bytes));
  } finally {
    guest.close();
  }
}

/** The QEMU arguments of a capture (`-cpu MODEL [-smp TOPOLOGY]`), from its first line. */
export function captureCpuArgs(fixtureText: string): string[] {
  const m = /^# qemu-system-x86_64 -accel kvm -M pc -cpu (.*?)(?: -smp (\S+))? -m 128 /.exec(fixtureText);
  if (!m) throw new Error('not a CPUID capture: its first line is not the QEMU command line capture.ts writes');
  return ['-cpu', m[1], ...(m[2] ? ['-smp', m[2]] : [])];
}

/** QEMU ran but its guest never got to CPUID: QEMU itself cannot run that CPU on this host's KVM. */
export class QemuRefusedCpuError extends Error {}

/**
 * What QEMU's vCPU sees for `cpuArgs` (e.g. `['-cpu', 'qemu64']`) on this
 * host: the dump guest run as qemu-system-x86_64's -bios on KVM, in the text
 * form of test/fixtures/qemu-cpuid/ (the command line, QEMU's exit status and
 * stderr as `#` lines, then the dump). Throws when QEMU is not installed, and
 * a QemuRefusedCpuError when QEMU ends before its guest runs.
 */
export function captureQemuCpuid(cpuArgs: readonly string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-cpuid-'));
  try {
    const bios = path.join(dir, 'bios.bin');
    const out = path.join(dir, 'debugcon.bin');
    fs.writeFileSync(bios, cpuidDumpBios(dumpLeaves()));
    const args = ['-accel', 'kvm', '-M', 'pc', ...cpuArgs, '-m', '128', '-nodefaults', '-display', 'none',
      '-bios', bios, '-chardev', `file,id=d,path=${out}`, '-device', 'isa-debugcon,iobase=0x402,chardev=d',
      '-device', 'isa-debug-exit,iobase=0x501,iosize=1'];
    const r = spawnSync('qemu-system-x86_64', args, { encoding: 'utf8', timeout: 30000 });
    if (r.error) throw new Error(`qemu-system-x86_64 did not run (${r.error.message}): install it (Debian: apt-get install qemu-system-x86)`);
    if (!fs.existsSync(out)) throw new QemuRefusedCpuError(`qemu-system-x86_64 ${args.join(' ')} printed no dump (exit status ${r.status}):\n${r.stderr}`);
    return `# qemu-system-x86_64 ${args.join(' ').split(dir).join('$TMP')}\n` +
      `# exit status ${r.status}; stderr:\n${r.stderr.split('\n').filter((l) => l).map((l) => `# ${l}\n`).join('')}` +
      formatCpuidDump(decodeCpuidDump(new Uint8Array(fs.readFileSync(out))));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
