// QEMU's current_cpu: the vCPU whose exit is being dispatched, for the rare
// device that reads or writes the registers of the CPU that accessed it
// (vmport's backdoor passes its arguments and results in registers). The run
// loop sets it around each port access; outside one (a host-side access
// through an AddressSpace) it is null.
import type { Vcpu } from './vcpu';

let current: Vcpu | null = null;

/** The vCPU whose port access is being dispatched now, or null. */
export function currentVcpu(): Vcpu | null {
  return current;
}

/** @internal the run loop, around a port access of `vcpu` */
export function setCurrentVcpu(vcpu: Vcpu | null): void {
  current = vcpu;
}
