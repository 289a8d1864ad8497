// KVM_SET_GUEST_DEBUG: single-stepping and breakpoints the host owns (the
// guest's own DR0-DR7 are left alone). struct kvm_guest_debug is
// { u32 control; u32 pad; struct kvm_guest_debug_arch { u64 debugreg[8]; } },
// offsets from the addon's layout.
import { kvmConstant, layout } from '../binding';
import { toU64 } from '../util/integers';
import type { Vcpu } from './vcpu';

/** What the host watches for, for one vCPU. */
export interface GuestDebug {
  /** Report a KVM_EXIT_DEBUG after every instruction (the trap flag, owned by KVM). */
  singleStep: boolean;
  /** Intercept #BP (int3), so the guest's int3 bytes planted by the debugger exit to us. */
  softwareBreakpoints: boolean;
  /** Up to 4 linear addresses of instruction breakpoints, in DR0-DR3 order. */
  hardwareBreakpoints: readonly bigint[];
}

export const HARDWARE_BREAKPOINT_SLOTS = 4;

/**
 * DR7 for instruction breakpoints in slots 0..n-1: Gn (bit 2n+1) set, R/Wn and
 * LENn 0 (execution, 1 byte; SDM 17.2.4), GE (bit 9) as QEMU's
 * target/i386/kvm/kvm.c kvm_arch_update_guest_debug sets it, bit 10 reserved as 1.
 */
function instructionDr7(count: number): bigint {
  let dr7 = 0x600n;
  for (let n = 0; n < count; n++) dr7 |= 2n << BigInt(2 * n);
  return dr7;
}

export function encodeGuestDebug(debug: GuestDebug): Uint8Array {
  const bps = debug.hardwareBreakpoints;
  if (!Array.isArray(bps) || bps.length > HARDWARE_BREAKPOINT_SLOTS) {
    throw new RangeError(`at most ${HARDWARE_BREAKPOINT_SLOTS} hardware breakpoints (DR0-DR3), got ${String(bps?.length)}`);
  }
  const bytes = new Uint8Array(layout('sizeof.kvm_guest_debug'));
  const dv = new DataView(bytes.buffer);
  const on = debug.singleStep || debug.softwareBreakpoints || bps.length > 0;
  let control = 0;
  if (on) control |= kvmConstant('KVM_GUESTDBG_ENABLE');
  if (debug.singleStep) control |= kvmConstant('KVM_GUESTDBG_SINGLESTEP');
  if (debug.softwareBreakpoints) control |= kvmConstant('KVM_GUESTDBG_USE_SW_BP');
  if (bps.length > 0) control |= kvmConstant('KVM_GUESTDBG_USE_HW_BP');
  dv.setUint32(layout('guest_debug.control'), control, true);
  const regs = layout('guest_debug.debugreg');
  bps.forEach((a, i) => dv.setBigUint64(regs + 8 * i, toU64(a, `hardware breakpoint ${i}`), true));
  if (bps.length > 0) dv.setBigUint64(regs + 8 * 7, instructionDr7(bps.length), true);
  return bytes;
}

/** Sets (or, with nothing asked for, clears) the host's debugging of `vcpu`. */
export function setGuestDebug(vcpu: Vcpu, debug: GuestDebug): void {
  vcpu.ioctl('KVM_SET_GUEST_DEBUG', encodeGuestDebug(debug));
}

