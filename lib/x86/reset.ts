// Back to a clean architectural state before a new program starts: what a
// guest may have left behind in the vCPU and what mode set-up (registers,
// segments, control registers) does not cover. A random guest that armed a
// hardware breakpoint (DR7), or was stopped halfway through delivering an
// exception, must not break the next program loaded into the same vCPU.
// QEMU gets the same from its CPU reset on every system reset.
import { DEBUG_REGISTERS_AT_RESET } from '../kvm/cpu-state';
import type { Kvm } from '../kvm/system';
import type { Vcpu } from '../kvm/vcpu';
import { probeVcpuStateSupport, type VcpuStateBlobs, type VcpuStateSupport } from '../kvm/vcpu-state-blobs';
import type { Vm } from '../kvm/vm';

/** MSRs a guest can change, with their values at reset (PAT: the SDM's power-on value). */
const MSR_RESET: readonly (readonly [number, bigint])[] = [
  [0x174, 0n], [0x175, 0n], [0x176, 0n], // SYSENTER_CS/ESP/EIP
  [0x277, 0x0007_0406_0007_0406n], // PAT
  [0xc0000081, 0n], [0xc0000082, 0n], [0xc0000083, 0n], [0xc0000084, 0n], // STAR, LSTAR, CSTAR, SFMASK
  [0xc0000102, 0n], // KERNEL_GS_BASE
];

/**
 * Clears pending exceptions, interrupts and NMIs and the interrupt shadow,
 * resets the debug registers (no breakpoints), x87/SSE/AVX, XCR0 and the
 * MSRs in MSR_RESET. Registers, segments and control registers are the mode
 * set-up's job (setupRealMode/setupProtectedMode/setupLongMode).
 */
export function resetVcpuState(vcpu: Vcpu): void {
  vcpu.clearEvents();
  vcpu.setDebugRegs(DEBUG_REGISTERS_AT_RESET);
  vcpu.resetFpu();
  if (vcpu.hasXsaveState) vcpu.setXcrs([{ index: 0, value: 1n }]); // XCR0 = x87 only, its reset value
  vcpu.setMsrs(MSR_RESET);
}

/**
 * MSRs a firmware boot needs back at every system reset, beyond what the
 * register blobs hold (QEMU's x86_cpu_reset zeroes them): the SYSENTER,
 * PAT, SYSCALL and GS-base MSRs, TSC_AUX and MISC_ENABLE, the MTRRs SeaBIOS
 * programs, and KVM's paravirtual MSRs (kvmclock's system time must stop
 * being written into guest RAM the new boot reuses). Not the TSC: time goes on.
 */
export const POWER_ON_MSRS: readonly number[] = [
  ...MSR_RESET.map(([index]) => index),
  0x1a0, // MISC_ENABLE
  0xc0000103, // TSC_AUX
  0x2ff, // MTRRdefType
  ...Array.from({ length: 16 }, (_, i) => 0x200 + i), // variable MTRRs (base/mask pairs 0-7)
  0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, // fixed MTRRs
  0x11, 0x12, // MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME (the old kvmclock)
  0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, // kvmclock, async PF, steal time, PV EOI
];

/** A vCPU's state as KVM created it: the x86 power-on state a firmware starts in. */
export interface PowerOnState {
  readonly support: VcpuStateSupport;
  readonly blobs: VcpuStateBlobs;
}

/** Reads `vcpu`'s state before it first runs (of POWER_ON_MSRS, those the host has). */
export function capturePowerOnState(kvm: Kvm, vm: Vm, vcpu: Vcpu, hasLapic: boolean): PowerOnState {
  const support = probeVcpuStateSupport(kvm, vm, vcpu, hasLapic, POWER_ON_MSRS);
  return { support, blobs: vcpu.captureState(support) };
}

/** Puts `vcpu` back into its power-on state: at the reset vector, no events, LAPIC and MSRs as new. */
export function restorePowerOnState(vcpu: Vcpu, state: PowerOnState): void {
  vcpu.restoreState(state.blobs, state.support, 'full');
}
