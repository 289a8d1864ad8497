// Turns KVM_EXIT_INTERNAL_ERROR into a message a person can act on: where
// (RIP), what (the instruction bytes, and a name for the usual suspects) and
// what to do about it.
import type { AddressSpace } from '../memory/address-space';
import { hex, hexBytes } from '../util/hex';
import { runLayout, type VcpuExit } from './exits';
import type { Vcpu } from './vcpu';

/** EFER.LMA: long mode is active, so RIP is the linear address (no CS base) */
const EFER_LMA = 1n << 10n;

type InternalError = Extract<VcpuExit, { reason: 'internalError' }>;

/**
 * Names the instructions KVM's emulator is known to reject, from their bytes
 * (legacy and REX prefixes skipped). Returns undefined for anything else.
 */
export function guessInstruction(bytes: Uint8Array, long = true): string | undefined {
  let i = 0;
  let rexW = false;
  let rep = false;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b === 0xf3) rep = true;
    if ([0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65].includes(b)) { i++; continue; }
    if (long && b >= 0x40 && b <= 0x4f) { rexW = (b & 8) !== 0; i++; continue; }
    break;
  }
  const op = bytes[i];
  if (op === 0xcc) return 'int3';
  if (op === 0x9b) return 'fwait';
  if (op !== 0x0f || i + 2 >= bytes.length + 1) return undefined;
  const op2 = bytes[i + 1];
  const modrm = bytes[i + 2] ?? 0;
  const reg = (modrm >> 3) & 7;
  if (op2 === 0xb8 && rep) return 'popcnt';
  if (op2 === 0xc7 && reg === 1) return rexW ? 'cmpxchg16b' : 'cmpxchg8b';
  if (op2 === 0xae && (modrm >> 6) !== 3) {
    const names: Record<number, string> = { 0: 'fxsave', 1: 'fxrstor', 4: 'xsave', 5: 'xrstor', 6: 'xsaveopt' };
    return names[reg];
  }
  return undefined;
}

/** The instruction bytes at RIP, read through the guest's page tables (KVM_TRANSLATE). */
function bytesAtRip(vcpu: Vcpu, memory: AddressSpace, rip: bigint): Uint8Array | undefined {
  try {
    const sregs = vcpu.getSregs();
    const linear = (sregs.efer & EFER_LMA) !== 0n ? rip : sregs.cs.base + rip;
    const t = vcpu.translate(BigInt.asUintN(64, linear));
    return t.valid ? memory.read(t.physicalAddress, 15).data : undefined;
  } catch {
    return undefined;
  }
}

export function describeEmulationFailure(vcpu: Vcpu, memory: AddressSpace, exit: InternalError, rip: bigint): string {
  const at = `RIP ${hex(rip)}`;
  if (exit.suberror !== runLayout().internalEmulation) {
    return `KVM internal error at ${at}: ${exit.suberrorName} (suberror ${exit.suberror}, data ${exit.data.map(hex).join(' ')}). ` +
      'This usually means an exception happened while the CPU was delivering another one: check the IDT, GDT and stack.';
  }
  let long = true;
  try { long = vcpu.getSregs().cs.l === 1; } catch { /* keep the default */ }
  const bytes = exit.instructionBytes?.length ? exit.instructionBytes : bytesAtRip(vcpu, memory, rip);
  const name = bytes ? guessInstruction(bytes, long) : undefined;
  const insn = bytes ? `bytes ${hexBytes(bytes)}${name ? `, looks like \`${name}\`` : ''}` : 'instruction bytes unavailable';
  return `KVM could not emulate the guest instruction at ${at} (${insn}). ` +
    'On this host ring-0 guest code is emulated one instruction at a time, and KVM\'s emulator does not know a few ' +
    'instructions (int3, cmpxchg16b, xrstor, popcnt, fwait, ...). Replace that instruction in ring-0 code, or run the code in ring 3, where it executes natively.';
}
