// Back to a clean architectural state before a new program starts: what a
// guest may have left behind in the vCPU and what mode set-up (registers,
// segments, control registers) does not cover. A random guest that armed a
// hardware breakpoint (DR7), or was stopped halfway through delivering an
// exception, must not break the next program loaded into the same vCPU.
// QEMU gets the same from its CPU reset on every system reset.
import { kvmConstant, layout } from '../binding';
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
  const events = new Uint8Array(layout('sizeof.kvm_vcpu_events'));
  // All zero, and the flags that make KVM apply the NMI-pending and shadow fields too.
  new DataView(events.buffer).setUint32(layout('vcpu_events.flags'), kvmConstant('KVM_VCPUEVENT_VALID_NMI_PENDING') | kvmConstant('KVM_VCPUEVENT_VALID_SHADOW'), true);
  vcpu.ioctl('KVM_SET_VCPU_EVENTS', events);

  const debug = new Uint8Array(layout('sizeof.kvm_debugregs'));
  const dv = new DataView(debug.buffer);
  dv.setBigUint64(32, 0xffff_0ff0n, true); // DR6 at reset
  dv.setBigUint64(40, 0x400n, true); // DR7 at reset: no breakpoint enabled
  vcpu.ioctl('KVM_SET_DEBUGREGS', debug);

  vcpu.resetFpu();
  if (vcpu.hasXsaveState) {
    const xcrs = new Uint8Array(layout('sizeof.kvm_xcrs'));
    const xv = new DataView(xcrs.buffer);
    xv.setUint32(0, 1, true); // one XCR: XCR0 = x87 only, its reset value
    xv.setBigUint64(16, 1n, true);
    vcpu.ioctl('KVM_SET_XCRS', xcrs);
  }
  vcpu.setMsrs(MSR_RESET);
}
