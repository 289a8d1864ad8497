// kvm_fpu, kvm_msrs and kvm_lapic_state as plain objects, encoded to and from
// the byte layout of <linux/kvm.h> (sizes checked against the addon's sizeof).
import { layout } from '../binding';
import { hex } from '../util/hex';
import { toU64, toUint } from '../util/integers';
import { checkStructSize } from './struct-size';

/** x87/SSE state (struct kvm_fpu). Registers are raw little-endian bytes. */
export interface FpuState {
  /** ST0..ST7 as 16-byte slots (80-bit values in the low 10 bytes). */
  fpr: Uint8Array[];
  fcw: number;
  fsw: number;
  /** Abridged tag word (one bit per register, 1 = valid). */
  ftwx: number;
  lastOpcode: number;
  lastIp: bigint;
  lastDp: bigint;
  /** XMM0..XMM15, 16 bytes each. */
  xmm: Uint8Array[];
  mxcsr: number;
}

export const FPU_SIZE = 416;

/** Where each field sits: in struct kvm_fpu, or in the FXSAVE legacy area at the start of an XSAVE image. */
export interface FpuLayout { fpr: number; fcw: number; fsw: number; ftwx: number; lastOpcode: number; lastIp: number; lastDp: number; xmm: number; mxcsr: number }
export const KVM_FPU_LAYOUT: FpuLayout = { fpr: 0, fcw: 128, fsw: 130, ftwx: 132, lastOpcode: 134, lastIp: 136, lastDp: 144, xmm: 152, mxcsr: 408 };
export const FXSAVE_LAYOUT: FpuLayout = { fcw: 0, fsw: 2, ftwx: 4, lastOpcode: 6, lastIp: 8, lastDp: 16, mxcsr: 24, fpr: 32, xmm: 160 };
/** XSAVE header: XSTATE_BV at 512; bits 0 (x87) and 1 (SSE) say the legacy area holds live state. */
export const XSTATE_BV_OFFSET = 512;
export const XSTATE_FP_SSE = 3n;

export function checkCpuStateLayouts(): void {
  checkStructSize('kvm_fpu', FPU_SIZE);
  checkStructSize('kvm_msr_entry', MSR_ENTRY);
  checkStructSize('kvm_lapic_state', LAPIC_SIZE);
}

export function decodeFpu(bytes: Uint8Array, FPU: FpuLayout = KVM_FPU_LAYOUT): FpuState {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = (at: number, n: number) => Array.from({ length: n }, (_, i) => bytes.slice(at + 16 * i, at + 16 * i + 16));
  return {
    fpr: slots(FPU.fpr, 8),
    fcw: dv.getUint16(FPU.fcw, true),
    fsw: dv.getUint16(FPU.fsw, true),
    ftwx: dv.getUint8(FPU.ftwx),
    lastOpcode: dv.getUint16(FPU.lastOpcode, true),
    lastIp: dv.getBigUint64(FPU.lastIp, true),
    lastDp: dv.getBigUint64(FPU.lastDp, true),
    xmm: slots(FPU.xmm, 16),
    mxcsr: dv.getUint32(FPU.mxcsr, true),
  };
}


function slotsInto(list: unknown, n: number, what: string, out: Uint8Array, at: number): void {
  if (!Array.isArray(list) || list.length > n) throw new TypeError(`${what} must be an array of at most ${n} Uint8Arrays`);
  list.forEach((s, i) => {
    if (!(s instanceof Uint8Array) || s.length > 16) throw new TypeError(`${what}[${i}] must be a Uint8Array of at most 16 bytes`);
    out.fill(0, at + 16 * i, at + 16 * i + 16);
    out.set(s, at + 16 * i);
  });
}

/** Writes the given fields over `base` (the current state); validates everything first. */
export function encodeFpu(fpu: Partial<FpuState>, base: Uint8Array, FPU: FpuLayout = KVM_FPU_LAYOUT): void {
  const tmp = base.slice();
  const dv = new DataView(tmp.buffer);
  if (fpu.fpr !== undefined) slotsInto(fpu.fpr, 8, 'fpr', tmp, FPU.fpr);
  if (fpu.xmm !== undefined) slotsInto(fpu.xmm, 16, 'xmm', tmp, FPU.xmm);
  if (fpu.fcw !== undefined) dv.setUint16(FPU.fcw, toUint(fpu.fcw, 16, 'fcw'), true);
  if (fpu.fsw !== undefined) dv.setUint16(FPU.fsw, toUint(fpu.fsw, 16, 'fsw'), true);
  if (fpu.ftwx !== undefined) dv.setUint8(FPU.ftwx, toUint(fpu.ftwx, 8, 'ftwx'));
  if (fpu.lastOpcode !== undefined) dv.setUint16(FPU.lastOpcode, toUint(fpu.lastOpcode, 16, 'lastOpcode'), true);
  if (fpu.lastIp !== undefined) dv.setBigUint64(FPU.lastIp, toU64(fpu.lastIp, 'lastIp'), true);
  if (fpu.lastDp !== undefined) dv.setBigUint64(FPU.lastDp, toU64(fpu.lastDp, 'lastDp'), true);
  if (fpu.mxcsr !== undefined) dv.setUint32(FPU.mxcsr, toUint(fpu.mxcsr, 32, 'mxcsr'), true);
  base.set(tmp);
}

// struct kvm_msrs: u32 nmsrs, u32 pad, then nmsrs × struct kvm_msr_entry { u32 index, u32 reserved, u64 data }.
const MSRS_HEADER = 8;
const MSR_ENTRY = 16;

/** The size of a kvm_msrs struct of `count` entries. */
export function msrListLength(count: number): number {
  return MSRS_HEADER + MSR_ENTRY * count;
}

/** Whether `length` bytes can be a whole kvm_msrs struct (a header and whole entries). */
export function isMsrListLength(length: number): boolean {
  return length >= MSRS_HEADER && (length - MSRS_HEADER) % MSR_ENTRY === 0;
}

/** The entry count a kvm_msrs struct's header states. */
export function msrListCount(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
}

/** struct kvm_msrs with `indices.length` entries (data from `values` when given). */
export function encodeMsrs(indices: readonly number[], values?: readonly bigint[]): Uint8Array {
  const bytes = new Uint8Array(msrListLength(indices.length));
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, indices.length, true);
  indices.forEach((index, i) => {
    dv.setUint32(MSRS_HEADER + MSR_ENTRY * i, toUint(index, 32, 'MSR index'), true);
    if (values) dv.setBigUint64(MSRS_HEADER + MSR_ENTRY * i + 8, toU64(values[i], `value of MSR ${hex(index)}`), true);
  });
  return bytes;
}

export function decodeMsrValues(bytes: Uint8Array, n: number): bigint[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: n }, (_, i) => dv.getBigUint64(MSRS_HEADER + MSR_ENTRY * i + 8, true));
}

export const LAPIC_SIZE = 1024;

/** Well-known local APIC register offsets (Intel SDM vol. 3, 11.4.1). */
export const LAPIC_REG = {
  ID: 0x20, VERSION: 0x30, TPR: 0x80, EOI: 0xb0, LDR: 0xd0, SVR: 0xf0, ISR: 0x100, IRR: 0x200, ICR_LOW: 0x300,
  LVT_TIMER: 0x320, LVT_LINT0: 0x350, LVT_LINT1: 0x360, LVT_ERROR: 0x370, TIMER_INITIAL: 0x380, TIMER_CURRENT: 0x390, TIMER_DIVIDE: 0x3e0,
} as const;

/** The in-kernel local APIC's register page (struct kvm_lapic_state). */
export class LapicState {
  constructor(readonly bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== LAPIC_SIZE) throw new TypeError(`LAPIC state must be a Uint8Array of ${LAPIC_SIZE} bytes`);
  }

  /** A 32-bit register at `offset` (16-byte aligned, below 0x400). */
  get(offset: number): number {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset).getUint32(checkLapicOffset(offset), true);
  }

  set(offset: number, value: number): void {
    new DataView(this.bytes.buffer, this.bytes.byteOffset).setUint32(checkLapicOffset(offset), toUint(value, 32, 'LAPIC register value'), true);
  }

  /** The APIC ID (bits 31:24 of the ID register in xAPIC mode). */
  get id(): number {
    return this.get(LAPIC_REG.ID) >>> 24;
  }
}

function checkLapicOffset(offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset >= LAPIC_SIZE || offset % 16 !== 0) {
    throw new RangeError(`LAPIC register offset must be a multiple of 16 below 0x400, got ${String(offset)}`);
  }
  return offset;
}

/** struct kvm_debugregs: DR0-DR3, DR6, DR7. */
export interface DebugRegisters {
  db: readonly [bigint, bigint, bigint, bigint];
  dr6: bigint;
  dr7: bigint;
}

/** DR6 and DR7 at reset (SDM 17.2): no breakpoint enabled, no condition detected. */
export const DEBUG_REGISTERS_AT_RESET: DebugRegisters = { db: [0n, 0n, 0n, 0n], dr6: 0xffff_0ff0n, dr7: 0x400n };

export function decodeDebugRegs(bytes: Uint8Array): DebugRegisters {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const q = (i: number) => dv.getBigUint64(8 * i, true);
  return { db: [q(0), q(1), q(2), q(3)], dr6: q(4), dr7: q(5) };
}

export function encodeDebugRegs(regs: DebugRegisters): Uint8Array {
  if (!Array.isArray(regs?.db) || regs.db.length !== 4) throw new TypeError('debug registers need db: [dr0, dr1, dr2, dr3]');
  const bytes = new Uint8Array(layout('sizeof.kvm_debugregs'));
  const dv = new DataView(bytes.buffer);
  regs.db.forEach((v, i) => dv.setBigUint64(8 * i, toU64(v, `dr${i}`), true));
  dv.setBigUint64(32, toU64(regs.dr6, 'dr6'), true);
  dv.setBigUint64(40, toU64(regs.dr7, 'dr7'), true);
  return bytes;
}

/** One extended control register (XCR0 is the only one x86 defines for guests). */
export interface Xcr {
  index: number;
  value: bigint;
}

// struct kvm_xcrs: u32 nr_xcrs, u32 flags, then 16 × { u32 xcr, u32 reserved, u64 value }.
const XCRS_MAX = 16;

export function decodeXcrs(bytes: Uint8Array): Xcr[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.min(dv.getUint32(0, true), XCRS_MAX);
  return Array.from({ length: n }, (_, i) => ({ index: dv.getUint32(8 + 16 * i, true), value: dv.getBigUint64(16 + 16 * i, true) }));
}

export function encodeXcrs(xcrs: readonly Xcr[]): Uint8Array {
  if (!Array.isArray(xcrs) || xcrs.length > XCRS_MAX) throw new RangeError(`XCRs must be an array of at most ${XCRS_MAX} { index, value }`);
  const bytes = new Uint8Array(layout('sizeof.kvm_xcrs'));
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, xcrs.length, true);
  xcrs.forEach((x, i) => {
    dv.setUint32(8 + 16 * i, toUint(x.index, 32, 'XCR index'), true);
    dv.setBigUint64(16 + 16 * i, toU64(x.value, `XCR${x.index}`), true);
  });
  return bytes;
}

/** KVM_TRANSLATE's answer for one linear address. */
export interface Translation {
  physicalAddress: bigint;
  valid: boolean;
  writeable: boolean;
  usermode: boolean;
}

// struct kvm_translation: u64 linear_address, u64 physical_address, u8 valid, u8 writeable, u8 usermode.
export function encodeTranslation(linear: bigint): Uint8Array {
  const bytes = new Uint8Array(layout('sizeof.kvm_translation'));
  new DataView(bytes.buffer).setBigUint64(0, toU64(linear, 'linear address'), true);
  return bytes;
}

export function decodeTranslation(bytes: Uint8Array): Translation {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { physicalAddress: dv.getBigUint64(8, true), valid: bytes[16] !== 0, writeable: bytes[17] !== 0, usermode: bytes[18] !== 0 };
}
