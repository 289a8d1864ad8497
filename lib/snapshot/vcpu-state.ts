// The vCPU state a snapshot keeps: which MSRs, and what the host supports for
// it. Capturing and putting back the state is the vCPU's own job
// (Vcpu.captureState / restoreState, lib/kvm/vcpu-state-blobs.ts): a
// snapshot holds the bytes it returns without looking inside.
import type { Kvm } from '../kvm/system';
import type { Vcpu } from '../kvm/vcpu';
import { probeVcpuStateSupport, type VcpuStateBlobs, type VcpuStateSupport } from '../kvm/vcpu-state-blobs';
import type { Vm } from '../kvm/vm';
import { POWER_ON_MSRS } from '../x86/reset';

export type { RestoreLevel } from '../kvm/vcpu-state-blobs';

/** One vCPU's state in a snapshot. */
export type VcpuState = VcpuStateBlobs;

/** MSRs a guest can change, saved when the host lists them (KVM_GET_MSR_INDEX_LIST). */
export const SAVED_MSRS: readonly number[] = [
  0x10, // IA32_TSC: the guest sees the same time after every restore
  0x174, 0x175, 0x176, // SYSENTER_CS/ESP/EIP
  0x1a0, // MISC_ENABLE
  0x277, // PAT
  0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, // STAR, LSTAR, CSTAR, SFMASK
  0xc0000102, // KERNEL_GS_BASE
  0xc0000103, // TSC_AUX
];

/**
 * What a machine that boots firmware keeps besides: the MTRRs and KVM's
 * paravirtual MSRs the firmware programs (kvmclock above all), everything
 * its system reset puts back (POWER_ON_MSRS), and the TSC.
 */
export const FIRMWARE_SAVED_MSRS: readonly number[] = [...new Set([...SAVED_MSRS, ...POWER_ON_MSRS])];

/** Probes what the host offers for saving and restoring vCPU state (of `msrs`, what it can read). */
export function probeSupport(kvm: Kvm, vm: Vm, vcpu: Vcpu, hasLapic: boolean, msrs: readonly number[] = SAVED_MSRS): VcpuStateSupport {
  return probeVcpuStateSupport(kvm, vm, vcpu, hasLapic, msrs);
}
