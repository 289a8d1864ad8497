// A vCPU's registers as gdb's g/G/p/P packets carry them: little-endian,
// in target-description.ts's order and sizes. Segment registers are
// selectors; writing one in real mode also sets its base (selector * 16),
// as QEMU's x86_cpu_gdb_write_register does through cpu_x86_load_seg;
// in protected mode a selector change would need a descriptor load, which
// a debugger write must not fake, so it is refused.
import type { FpuState } from '../kvm/cpu-state';
import type { Registers, Segment, SpecialRegisters } from '../kvm/registers';
import type { Vcpu } from '../kvm/vcpu';
import { G_PACKET_BYTES, GDB_REGISTERS, REGISTER_OFFSETS } from './target-description';

const GPR_FIELDS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'] as const;
const SEGMENTS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;

interface CpuView {
  regs: Registers;
  sregs: SpecialRegisters;
  fpu: FpuState;
}

/** A register write gdb may not make (a protected-mode selector, a bad length). */
export class RegisterWriteError extends RangeError {}

function read(vcpu: Vcpu): CpuView {
  return { regs: vcpu.getRegs(), sregs: vcpu.getSregs(), fpu: vcpu.getFpu() };
}

/** The full tag word from FXSAVE's abridged one: 00 (valid) or 11 (empty) per register. */
function fullTag(ftwx: number): number {
  let tag = 0;
  for (let i = 0; i < 8; i++) if (((ftwx >> i) & 1) === 0) tag |= 3 << (2 * i);
  return tag;
}

function abridgedTag(tag: number): number {
  let ftwx = 0;
  for (let i = 0; i < 8; i++) if (((tag >> (2 * i)) & 3) !== 3) ftwx |= 1 << i;
  return ftwx;
}

function encodeOne(v: CpuView, n: number, out: DataView, at: number): void {
  const { name } = GDB_REGISTERS[n];
  const u64 = (x: bigint) => out.setBigUint64(at, BigInt.asUintN(64, x), true);
  const u32 = (x: number | bigint) => out.setUint32(at, Number(BigInt.asUintN(32, BigInt(x))), true);
  const bytes = (b: Uint8Array, len: number) => new Uint8Array(out.buffer, out.byteOffset + at, len).set(b.subarray(0, len));
  if (n <= 16) return u64(v.regs[GPR_FIELDS[n]]);
  if (name === 'eflags') return u32(v.regs.rflags);
  const seg = SEGMENTS.indexOf(name as typeof SEGMENTS[number]);
  if (seg >= 0) return u32(v.sregs[SEGMENTS[seg]].selector);
  if (name.startsWith('st')) return bytes(v.fpu.fpr[Number(name.slice(2))], 10);
  if (name.startsWith('xmm')) return bytes(v.fpu.xmm[Number(name.slice(3))], 16);
  switch (name) {
    case 'fctrl': return u32(v.fpu.fcw);
    case 'fstat': return u32(v.fpu.fsw);
    case 'ftag': return u32(fullTag(v.fpu.ftwx));
    case 'fiseg': return u32(v.fpu.lastIp >> 32n);
    case 'fioff': return u32(v.fpu.lastIp);
    case 'foseg': return u32(v.fpu.lastDp >> 32n);
    case 'fooff': return u32(v.fpu.lastDp);
    case 'fop': return u32(v.fpu.lastOpcode);
    case 'mxcsr': return u32(v.fpu.mxcsr);
    case 'fs_base': return u64(v.sregs.fs.base);
    case 'gs_base': return u64(v.sregs.gs.base);
  }
}

/** Applies register `n`'s new bytes to the view; returns which parts changed. */
function decodeOne(v: CpuView, n: number, src: DataView, at: number, dirty: Set<keyof CpuView>): void {
  const { name } = GDB_REGISTERS[n];
  const u64 = () => src.getBigUint64(at, true);
  const u32 = () => src.getUint32(at, true);
  const bytes = (len: number) => new Uint8Array(src.buffer, src.byteOffset + at, len);
  if (n <= 16) {
    const f = GPR_FIELDS[n];
    if (v.regs[f] !== u64()) { v.regs = { ...v.regs, [f]: u64() }; dirty.add('regs'); }
    return;
  }
  if (name === 'eflags') {
    const flags = (v.regs.rflags & ~0xffff_ffffn) | BigInt(u32());
    if (flags !== v.regs.rflags) { v.regs = { ...v.regs, rflags: flags }; dirty.add('regs'); }
    return;
  }
  const seg = SEGMENTS.indexOf(name as typeof SEGMENTS[number]);
  if (seg >= 0) {
    const key = SEGMENTS[seg];
    const selector = u32() & 0xffff;
    if (selector === v.sregs[key].selector) return;
    if ((v.sregs.cr0 & 1n) !== 0n) throw new RegisterWriteError(`cannot load ${key} = ${selector.toString(16)} from the debugger in protected mode (it needs a descriptor load by the guest)`);
    const s: Segment = { ...v.sregs[key], selector, base: BigInt(selector) << 4n };
    v.sregs = { ...v.sregs, [key]: s };
    dirty.add('sregs');
    return;
  }
  const fpu = { ...v.fpu };
  if (name.startsWith('st')) {
    const i = Number(name.slice(2));
    fpu.fpr = fpu.fpr.map((r, j) => (j === i ? Uint8Array.from([...bytes(10), ...r.subarray(10)]) : r));
  } else if (name.startsWith('xmm')) {
    const i = Number(name.slice(3));
    fpu.xmm = fpu.xmm.map((r, j) => (j === i ? Uint8Array.from(bytes(16)) : r));
  } else {
    switch (name) {
      case 'fctrl': fpu.fcw = u32() & 0xffff; break;
      case 'fstat': fpu.fsw = u32() & 0xffff; break;
      case 'ftag': fpu.ftwx = abridgedTag(u32()); break;
      case 'fiseg': fpu.lastIp = (BigInt(u32()) << 32n) | (fpu.lastIp & 0xffff_ffffn); break;
      case 'fioff': fpu.lastIp = (fpu.lastIp & ~0xffff_ffffn) | BigInt(u32()); break;
      case 'foseg': fpu.lastDp = (BigInt(u32()) << 32n) | (fpu.lastDp & 0xffff_ffffn); break;
      case 'fooff': fpu.lastDp = (fpu.lastDp & ~0xffff_ffffn) | BigInt(u32()); break;
      case 'fop': fpu.lastOpcode = u32() & 0x7ff; break;
      case 'mxcsr': fpu.mxcsr = u32(); break;
      case 'fs_base': case 'gs_base': {
        const key = name === 'fs_base' ? 'fs' : 'gs';
        if (v.sregs[key].base !== u64()) { v.sregs = { ...v.sregs, [key]: { ...v.sregs[key], base: u64() } }; dirty.add('sregs'); }
        return;
      }
    }
  }
  const before = new Uint8Array(512);
  const after = new Uint8Array(512);
  encodeFpuForCompare(v.fpu, before);
  encodeFpuForCompare(fpu, after);
  if (Buffer.compare(before, after) !== 0) { v.fpu = fpu; dirty.add('fpu'); }
}

function encodeFpuForCompare(f: FpuState, out: Uint8Array): void {
  const dv = new DataView(out.buffer);
  dv.setUint16(0, f.fcw, true); dv.setUint16(2, f.fsw, true); dv.setUint8(4, f.ftwx); dv.setUint16(6, f.lastOpcode, true);
  dv.setBigUint64(8, BigInt.asUintN(64, f.lastIp), true); dv.setBigUint64(16, BigInt.asUintN(64, f.lastDp), true); dv.setUint32(24, f.mxcsr, true);
  f.fpr.forEach((r, i) => out.set(r.subarray(0, 16), 32 + 16 * i));
  f.xmm.forEach((r, i) => out.set(r.subarray(0, 16), 160 + 16 * i));
}

function writeBack(vcpu: Vcpu, v: CpuView, dirty: Set<keyof CpuView>): void {
  if (dirty.has('regs')) vcpu.setRegs(v.regs);
  if (dirty.has('sregs')) vcpu.setSregs(v.sregs);
  if (dirty.has('fpu')) vcpu.setFpu(v.fpu);
}

/** The `g` reply's bytes. */
export function readAllRegisters(vcpu: Vcpu): Uint8Array {
  const v = read(vcpu);
  const out = new Uint8Array(G_PACKET_BYTES);
  const dv = new DataView(out.buffer);
  GDB_REGISTERS.forEach((_, n) => encodeOne(v, n, dv, REGISTER_OFFSETS[n]));
  return out;
}

/** Register `n`'s bytes, or null when there is no such register. */
export function readRegister(vcpu: Vcpu, n: number): Uint8Array | null {
  const r = GDB_REGISTERS[n];
  if (r === undefined) return null;
  const out = new Uint8Array(r.bits / 8);
  encodeOne(read(vcpu), n, new DataView(out.buffer), 0);
  return out;
}

/** G: every register; only what changed is written, and nothing when one write is refused. */
export function writeAllRegisters(vcpu: Vcpu, bytes: Uint8Array): void {
  if (bytes.length !== G_PACKET_BYTES) throw new RegisterWriteError(`a G packet carries ${G_PACKET_BYTES} bytes of registers, got ${bytes.length}`);
  const v = read(vcpu);
  const dirty = new Set<keyof CpuView>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  GDB_REGISTERS.forEach((_, n) => decodeOne(v, n, dv, REGISTER_OFFSETS[n], dirty));
  writeBack(vcpu, v, dirty);
}

/** P: one register. */
export function writeRegister(vcpu: Vcpu, n: number, bytes: Uint8Array): void {
  const r = GDB_REGISTERS[n];
  if (r === undefined) throw new RegisterWriteError(`there is no register ${n}`);
  if (bytes.length !== r.bits / 8) throw new RegisterWriteError(`${r.name} has ${r.bits / 8} bytes, got ${bytes.length}`);
  const v = read(vcpu);
  const dirty = new Set<keyof CpuView>();
  decodeOne(v, n, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, dirty);
  writeBack(vcpu, v, dirty);
}
