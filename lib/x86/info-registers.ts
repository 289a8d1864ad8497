/**
 * `info registers` text for an x86 vCPU, as QEMU 7.2 prints it under KVM
 * (target/i386/cpu-dump.c x86_cpu_dump_state with CPU_DUMP_FPU, the flags
 * hmp_info_registers passes; the state as target/i386/kvm/kvm.c reads it).
 *
 * The layout follows QEMU's hflags, not the CPU model:
 * - HF_CS64 (EFER.LMA and CS.L: 64-bit code) selects RAX..R15/RIP/RFL,
 *   16-digit segment bases and 16 XMM registers, else EAX../EIP/EFL and 8;
 * - HF_LMA (EFER.LMA) selects 16-digit GDT/IDT bases and CR2/CR3 and the
 *   64-bit system segment type names;
 * - DR0-DR7 always print 16 digits (TARGET_FMT_lx of the x86_64 target);
 * - the vector block is YMM or ZMM when XCR0 enables AVX or AVX-512, else XMM.
 * CPL is SS.DPL (x86_update_hflags); DPL and type names print only in
 * protected mode for present segments.  The monitor's "\nCPU#n\n" heading is
 * not part of this text (lib/qemu/hmp.ts prints it).
 */
import type { DebugRegisters, FpuState } from '../kvm/cpu-state';
import type { Registers, Segment, SpecialRegisters } from '../kvm/registers';
import { readVcpuDumpExtras, XSTATE_AVX, XSTATE_AVX512, type VcpuDumpExtras } from '../kvm/vcpu-dump-state';
import type { Vcpu } from '../kvm/vcpu';
import { hexPadded } from '../util/hex';

/** Everything `info registers` shows: what Vcpu reads, plus the A20 gate, which the board owns (port 0x92, i8042). */
export interface InfoRegistersState extends VcpuDumpExtras {
  regs: Registers;
  sregs: SpecialRegisters;
  debugRegs: DebugRegisters;
  fpu: FpuState;
  /** the A20 gate is enabled (QEMU's a20_mask bit 20; 1 at reset) */
  a20: boolean;
}

/** Reads the state of `vcpu` (not while it runs on its own thread); `a20` is the board's A20 gate, default enabled. */
export function readInfoRegistersState(vcpu: Vcpu, a20 = true): InfoRegistersState {
  return { regs: vcpu.getRegs(), sregs: vcpu.getSregs(), debugRegs: vcpu.getDebugRegs(), fpu: vcpu.getFpu(), a20, ...readVcpuDumpExtras(vcpu) };
}

// SegmentCache.flags bits (target/i386/cpu.h DESC_*), built from a kvm_segment as kvm.c get_seg does
const DESC_A = 1 << 8;
const DESC_W = 1 << 9; // data: writable; code: readable (DESC_R)
const DESC_E = 1 << 10; // data: expand-down; code: conforming (DESC_C)
const DESC_CS = 1 << 11;
const DESC_S = 1 << 12;
const DESC_P = 1 << 15;
const DESC_L = 1 << 21;
const DESC_B = 1 << 22;

function segmentFlags(s: Segment): number {
  return ((s.type << 8) | (s.present && !s.unusable ? DESC_P : 0) | (s.dpl << 13) | (s.db << 22) | (s.s ? DESC_S : 0) |
    (s.l << 21) | (s.g ? 1 << 23 : 0) | (s.avl ? 1 << 20 : 0)) >>> 0;
}

const SYSTEM_TYPES = [
  ['Reserved', 'TSS16-avl', 'LDT', 'TSS16-busy', 'CallGate16', 'TaskGate', 'IntGate16', 'TrapGate16',
    'Reserved', 'TSS32-avl', 'Reserved', 'TSS32-busy', 'CallGate32', 'Reserved', 'IntGate32', 'TrapGate32'],
  ['<hiword>', 'Reserved', 'LDT', 'Reserved', 'Reserved', 'Reserved', 'Reserved', 'Reserved',
    'Reserved', 'TSS64-avl', 'Reserved', 'TSS64-busy', 'CallGate64', 'Reserved', 'IntGate64', 'TrapGate64'],
];

interface Mode { pe: boolean; lma: boolean; cs64: boolean }

const h32 = (v: bigint | number) => hexPadded(BigInt(v), 8);
const h64 = (v: bigint) => hexPadded(v, 16);

/** cpu_x86_dump_seg_cache */
function segmentLine(name: string, s: Segment, m: Mode): string {
  const flags = segmentFlags(s);
  let line = `${name.padEnd(3)}=${hexPadded(BigInt(s.selector), 4)} ${m.cs64 ? h64(s.base) : h32(s.base)} ${h32(s.limit)} ${h32(flags & 0x00ffff00)}`;
  if (!m.pe || !(flags & DESC_P)) return line;
  line += ` DPL=${s.dpl} `;
  const bit = (mask: number, c: string) => (flags & mask ? c : '-');
  if (!(flags & DESC_S)) return line + SYSTEM_TYPES[m.lma ? 1 : 0][s.type & 0xf];
  if (flags & DESC_CS) line += `${flags & DESC_L ? 'CS64' : flags & DESC_B ? 'CS32' : 'CS16'} [${bit(DESC_E, 'C')}${bit(DESC_W, 'R')}`;
  else line += `${flags & DESC_B || m.lma ? 'DS  ' : 'DS16'} [${bit(DESC_E, 'E')}${bit(DESC_W, 'W')}`;
  return `${line}${bit(DESC_A, 'A')}]`;
}

function quad(bytes: Uint8Array, i: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(8 * i, true);
}

/** the quadwords of a vector, most significant first, as %016 hex */
function quads(parts: readonly Uint8Array[]): string {
  const q: bigint[] = [];
  for (const p of parts) for (let i = 0; i < p.length / 8; i++) q.push(quad(p, i));
  return q.reverse().map(h64).join(' ');
}

function flagLetters(f: number): string {
  return ([[0x400, 'D'], [0x800, 'O'], [0x80, 'S'], [0x40, 'Z'], [0x10, 'A'], [0x04, 'P'], [0x01, 'C']] as const)
    .map(([mask, c]) => (f & mask ? c : '-')).join('');
}

function fpuLines(st: InfoRegistersState, m: Mode): string[] {
  const { fpu } = st;
  const lines = [`FCW=${hexPadded(BigInt(fpu.fcw), 4)} FSW=${hexPadded(BigInt(fpu.fsw), 4)} [ST=${(fpu.fsw >> 11) & 7}] FTW=${hexPadded(BigInt(fpu.ftwx), 2)} MXCSR=${h32(fpu.mxcsr)}`];
  for (let i = 0; i < 8; i += 2) {
    const r = (n: number) => `FPR${n}=${h64(quad(fpu.fpr[n], 0))} ${hexPadded(BigInt(fpu.fpr[n][8] | (fpu.fpr[n][9] << 8)), 4)}`;
    lines.push(`${r(i)} ${r(i + 1)}`);
  }
  const v = st.vectors;
  const n = m.cs64 ? 16 : 8;
  const two = (i: number) => String(i).padStart(2, '0');
  if (v && (st.xcr0 & XSTATE_AVX512) === XSTATE_AVX512) {
    for (let i = 0; i < 8; i += 4) lines.push(v.opmask.slice(i, i + 4).map((k, j) => `Opmask${two(i + j)}=${h64(k)}`).join(' '));
    for (let i = 0; i < (m.cs64 ? 32 : 8); i++) {
      lines.push(`ZMM${two(i)}=${quads(i < 16 ? [fpu.xmm[i], v.ymmHigh[i], v.zmmHigh[i]] : [v.hi16Zmm[i - 16]])}`);
    }
  } else if (v && (st.xcr0 & XSTATE_AVX) === XSTATE_AVX) {
    for (let i = 0; i < n; i++) lines.push(`YMM${two(i)}=${quads([fpu.xmm[i], v.ymmHigh[i]])}`);
  } else {
    for (let i = 0; i < n; i += 2) lines.push(`XMM${two(i)}=${quads([fpu.xmm[i]])} XMM${two(i + 1)}=${quads([fpu.xmm[i + 1]])}`);
  }
  return lines;
}

/** The `info registers` text of one vCPU (x86_cpu_dump_state), each line ending in "\n". */
export function formatInfoRegisters(st: InfoRegistersState): string {
  const { regs: r, sregs: s, debugRegs: d } = st;
  const lma = (s.efer & (1n << 10n)) !== 0n;
  const m: Mode = { pe: (s.cr0 & 1n) !== 0n, lma, cs64: lma && s.cs.l !== 0 };
  const rfl = Number(r.rflags & 0xffffffffn);
  const tail = `[${flagLetters(rfl)}] CPL=${s.ss.dpl & 3} II=${+st.interruptShadow} A20=${+st.a20} SMM=${+st.smm} HLT=${+st.halted}`;
  const lines: string[] = [];
  if (m.cs64) {
    const row = (names: string[], vals: bigint[]) => names.map((nm, i) => `${nm.padEnd(3)}=${h64(vals[i])}`).join(' ');
    lines.push(row(['RAX', 'RBX', 'RCX', 'RDX'], [r.rax, r.rbx, r.rcx, r.rdx]), row(['RSI', 'RDI', 'RBP', 'RSP'], [r.rsi, r.rdi, r.rbp, r.rsp]),
      row(['R8', 'R9', 'R10', 'R11'], [r.r8, r.r9, r.r10, r.r11]), row(['R12', 'R13', 'R14', 'R15'], [r.r12, r.r13, r.r14, r.r15]),
      `RIP=${h64(r.rip)} RFL=${h32(rfl)} ${tail}`);
  } else {
    const row = (names: string[], vals: bigint[]) => names.map((nm, i) => `${nm}=${h32(vals[i])}`).join(' ');
    lines.push(row(['EAX', 'EBX', 'ECX', 'EDX'], [r.rax, r.rbx, r.rcx, r.rdx]), row(['ESI', 'EDI', 'EBP', 'ESP'], [r.rsi, r.rdi, r.rbp, r.rsp]),
      `EIP=${h32(r.rip)} EFL=${h32(rfl)} ${tail}`);
  }
  for (const [name, seg] of [['ES', s.es], ['CS', s.cs], ['SS', s.ss], ['DS', s.ds], ['FS', s.fs], ['GS', s.gs], ['LDT', s.ldt], ['TR', s.tr]] as const) {
    lines.push(segmentLine(name, seg, m));
  }
  const base = (v: bigint) => (lma ? h64(v) : h32(v));
  lines.push(`GDT=     ${base(s.gdt.base)} ${h32(s.gdt.limit)}`, `IDT=     ${base(s.idt.base)} ${h32(s.idt.limit)}`);
  lines.push(`CR0=${h32(s.cr0)} CR2=${base(s.cr2)} CR3=${base(s.cr3)} CR4=${h32(s.cr4)}`);
  lines.push(`${d.db.map((v, i) => `DR${i}=${h64(v)} `).join('')}`, `DR6=${h64(d.dr6)} DR7=${h64(d.dr7)}`);
  lines.push(`EFER=${h64(s.efer)}`, ...fpuLines(st, m));
  return lines.map((l) => l + '\n').join('');
}
