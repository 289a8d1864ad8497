// The `cpus` option every board takes: how many vCPUs, checked against what
// this KVM can create, and what tells one vCPU from another (its initial
// APIC ID in CPUID, as QEMU's x86_cpu_realizefn sets it).
import type { CpuidEntry } from '../kvm/cpuid';
import type { Kvm } from '../kvm/system';

/** Checks `cpus` (default 1) before anything opens: a positive integer. */
export function checkCpus(value: unknown): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`cpus must be a whole number of vCPUs (1 or more), got ${typeof value === 'number' ? value : typeof value}`);
  }
  if (value < 1) throw new RangeError(`cpus must be at least 1, got ${value}`);
  return value;
}

/**
 * Refuses more vCPUs than this KVM creates (KVM_CAP_MAX_VCPUS; the KVM API
 * says NR_VCPUS, then 4, on kernels without it) and returns QEMU's warning
 * (kvm_init in accel/kvm/kvm-all.c) for more than it recommends
 * (KVM_CAP_NR_VCPUS), or null.
 */
export function checkCpusOnHost(kvm: Kvm, cpus: number): string | null {
  const recommended = kvm.checkExtension('NR_VCPUS') || 4;
  const max = kvm.checkExtension('MAX_VCPUS') || recommended;
  if (cpus > max) {
    throw new RangeError(`cpus ${cpus} is above this KVM's limit of ${max} vCPUs (KVM_CAP_MAX_VCPUS): ask for at most ${max}` +
      ` (KVM recommends at most ${recommended}, KVM_CAP_NR_VCPUS)`);
  }
  return cpus > recommended ? `Number of SMP cpus requested (${cpus}) exceeds the recommended cpus supported by KVM (${recommended})` : null;
}

/**
 * A CPUID table for the vCPU of APIC ID `apicId`: CPUID.1 EBX[31:24] and
 * the x2APIC ID of leaves 0xB and 0x1F (what -cpu host gets from QEMU's
 * cpu_x86_cpuid); everything else as given.
 */
export function cpuidWithApicId(entries: readonly CpuidEntry[], apicId: number): CpuidEntry[] {
  return entries.map((e) => {
    if (e.function === 1) return { ...e, ebx: ((e.ebx & 0x00ffffff) | (apicId << 24)) >>> 0 };
    if (e.function === 0xb || e.function === 0x1f) return { ...e, edx: apicId >>> 0 };
    return e;
  });
}
