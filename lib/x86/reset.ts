// Back to a clean architectural state before a new program starts: what a
// guest may have left behind in the vCPU and what mode set-up (registers,
// segments, control registers) does not cover. A random guest that armed a
// hardware breakpoint (DR7), or was stopped halfway through delivering an
// exception, must not break the next program loaded into the same vCPU.
// QEMU gets the same from its CPU reset on every system reset.
import { DEBUG_REGISTERS_AT_RESET } from '../kvm/cpu-state';
import type { Vcpu } from '../kvm/vcpu';

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
