// kvm_regs / kvm_sregs / kvm_fpu as plain objects, encoded to and from the
// byte layout of <linux/kvm.h>. Sizes are checked against the addon's sizeof
// so a header mismatch fails loudly instead of corrupting state.
import { toU64, toUint } from '../util/integers';
import { checkStructSize } from './struct-size';

export interface Registers {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint;
  r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}

/** kvm_regs field order. */
export const REGISTER_NAMES: readonly (keyof Registers)[] = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
];

export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

export interface DescriptorTable {
  base: bigint;
  limit: number;
}

export interface SpecialRegisters {
  cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment;
  tr: Segment; ldt: Segment;
  gdt: DescriptorTable; idt: DescriptorTable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint; apicBase: bigint;
  /** Pending external interrupt bitmap (256 bits). */
  interruptBitmap: [bigint, bigint, bigint, bigint];
}

export const SEGMENT_NAMES = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
const SEGMENT_SIZE = 24;
const DTABLE_SIZE = 16;

export const REGS_SIZE = 8 * REGISTER_NAMES.length;
export const SREGS_SIZE = 8 * SEGMENT_SIZE + 2 * DTABLE_SIZE + 7 * 8 + 4 * 8;

export function checkRegisterLayouts(): void {
  checkStructSize('kvm_regs', REGS_SIZE);
  checkStructSize('kvm_segment', SEGMENT_SIZE);
  checkStructSize('kvm_dtable', DTABLE_SIZE);
  checkStructSize('kvm_sregs', SREGS_SIZE);
}

export function decodeRegisters(bytes: Uint8Array): Registers {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = {} as Registers;
  REGISTER_NAMES.forEach((name, i) => (out[name] = dv.getBigUint64(i * 8, true)));
  return out;
}

/** Encodes `regs` over `base` (fields missing from `regs` keep base's values). */
export function encodeRegisters(regs: Partial<Registers>, base: Uint8Array): void {
  const dv = new DataView(base.buffer, base.byteOffset, base.byteLength);
  REGISTER_NAMES.forEach((name, i) => {
    if (regs[name] !== undefined) dv.setBigUint64(i * 8, toU64(regs[name], name), true);
  });
}

function decodeSegment(dv: DataView, at: number): Segment {
  return {
    base: dv.getBigUint64(at, true),
    limit: dv.getUint32(at + 8, true),
    selector: dv.getUint16(at + 12, true),
    type: dv.getUint8(at + 14),
    present: dv.getUint8(at + 15),
    dpl: dv.getUint8(at + 16),
    db: dv.getUint8(at + 17),
    s: dv.getUint8(at + 18),
    l: dv.getUint8(at + 19),
    g: dv.getUint8(at + 20),
    avl: dv.getUint8(at + 21),
    unusable: dv.getUint8(at + 22),
  };
}

function encodeSegment(dv: DataView, at: number, s: Segment, name: string): void {
  dv.setBigUint64(at, toU64(s.base, `${name}.base`), true);
  dv.setUint32(at + 8, toUint(s.limit, 32, `${name}.limit`), true);
  dv.setUint16(at + 12, toUint(s.selector, 16, `${name}.selector`), true);
  const bytes: [keyof Segment, number][] = [
    ['type', 14], ['present', 15], ['dpl', 16], ['db', 17], ['s', 18], ['l', 19], ['g', 20], ['avl', 21], ['unusable', 22],
  ];
  for (const [field, off] of bytes) dv.setUint8(at + off, toUint(s[field], 8, `${name}.${field}`));
}

const SREGS_TAIL = 8 * SEGMENT_SIZE + 2 * DTABLE_SIZE;
const CONTROL_NAMES = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'apicBase'] as const;

/**
 * Where some kvm_sregs fields sit, for a reader that needs only those (the
 * run-start exception probe, every run): decoding all of it makes some
 * twenty objects and bigints.
 */
export const SREGS_AT = {
  idtBase: 8 * SEGMENT_SIZE + DTABLE_SIZE,
  idtLimit: 8 * SEGMENT_SIZE + DTABLE_SIZE + 8,
  cr0: SREGS_TAIL + 8 * CONTROL_NAMES.indexOf('cr0'),
  efer: SREGS_TAIL + 8 * CONTROL_NAMES.indexOf('efer'),
} as const;

export function decodeSpecialRegisters(bytes: Uint8Array): SpecialRegisters {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = {} as SpecialRegisters;
  SEGMENT_NAMES.forEach((name, i) => (out[name] = decodeSegment(dv, i * SEGMENT_SIZE)));
  const dt = (at: number): DescriptorTable => ({ base: dv.getBigUint64(at, true), limit: dv.getUint16(at + 8, true) });
  out.gdt = dt(8 * SEGMENT_SIZE);
  out.idt = dt(8 * SEGMENT_SIZE + DTABLE_SIZE);
  CONTROL_NAMES.forEach((name, i) => (out[name] = dv.getBigUint64(SREGS_TAIL + i * 8, true)));
  const ib = SREGS_TAIL + CONTROL_NAMES.length * 8;
  out.interruptBitmap = [0, 1, 2, 3].map((i) => dv.getBigUint64(ib + i * 8, true)) as SpecialRegisters['interruptBitmap'];
  return out;
}

export function encodeSpecialRegisters(sregs: Partial<SpecialRegisters>, base: Uint8Array): void {
  const dv = new DataView(base.buffer, base.byteOffset, base.byteLength);
  SEGMENT_NAMES.forEach((name, i) => {
    const seg = sregs[name];
    if (seg !== undefined) encodeSegment(dv, i * SEGMENT_SIZE, seg, name);
  });
  (['gdt', 'idt'] as const).forEach((name, i) => {
    const t = sregs[name];
    if (t === undefined) return;
    const at = 8 * SEGMENT_SIZE + i * DTABLE_SIZE;
    dv.setBigUint64(at, toU64(t.base, `${name}.base`), true);
    dv.setUint16(at + 8, toUint(t.limit, 16, `${name}.limit`), true);
  });
  CONTROL_NAMES.forEach((name, i) => {
    if (sregs[name] !== undefined) dv.setBigUint64(SREGS_TAIL + i * 8, toU64(sregs[name], name), true);
  });
  if (sregs.interruptBitmap !== undefined) {
    const ib = SREGS_TAIL + CONTROL_NAMES.length * 8;
    sregs.interruptBitmap.forEach((w, i) => dv.setBigUint64(ib + i * 8, toU64(w, `interruptBitmap[${i}]`), true));
  }
}
