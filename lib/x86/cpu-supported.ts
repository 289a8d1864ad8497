// What KVM can give a vCPU, as QEMU reads it: KVM_GET_SUPPORTED_CPUID plus
// the corrections of kvm_arch_get_supported_cpuid (target/i386/kvm/kvm.c)
// for the in-kernel irqchip node-kvm always uses.
import type { CpuidEntry } from '../kvm/cpuid';
import { AMD_ALIASES, type FeatureWord } from './cpu-features';

/** The supported entry of (leaf, subleaf); leaves without a significant index match any subleaf. */
export function supportedEntry(supported: readonly CpuidEntry[], leaf: number, index: number): CpuidEntry | undefined {
  return supported.find((e) => e.function === leaf && ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) === 0 || e.index === index));
}

/** KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, linux/kvm.h). */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

const CPUID_EXT_HYPERVISOR = 1 << 31;
const CPUID_EXT_TSC_DEADLINE_TIMER = 1 << 24;
/** CPUID_MTRR | CPUID_PAT | CPUID_MCE | CPUID_MCA: "KVM before 2.6.30 misreports the following features". */
const MISREPORTED_1_EDX = (1 << 12) | (1 << 16) | (1 << 7) | (1 << 14);
const CPUID_EXT3_TOPOEXT = 1 << 22;
const KVM_HINTS_REALTIME = 1 << 0;

/** One register of the supported CPUID, 0 when KVM lacks the leaf. */
function supportedReg(supported: readonly CpuidEntry[], leaf: number, index: number, reg: FeatureWord['reg']): number {
  return supportedEntry(supported, leaf, index)?.[reg] ?? 0;
}

/** The bits of a feature word KVM supports, as x86_cpu_get_supported_feature_word sees them. */
export function kvmSupportedWord(supported: readonly CpuidEntry[], word: FeatureWord): number {
  let ret = supportedReg(supported, word.leaf, word.index, word.reg);
  if (word.leaf === 1 && word.reg === 'ecx') {
    // The hypervisor bit is QEMU's to set; TSC deadline works with the in-kernel LAPIC (KVM_CAP_TSC_DEADLINE_TIMER).
    ret |= CPUID_EXT_HYPERVISOR | CPUID_EXT_TSC_DEADLINE_TIMER;
  } else if (word.leaf === 1 && word.reg === 'edx') {
    ret |= MISREPORTED_1_EDX;
  } else if (word.leaf === 0x80000001 && word.reg === 'ecx') {
    ret |= CPUID_EXT3_TOPOEXT; // "It's safe to enable TOPOEXT even if it's not returned by GET_SUPPORTED_CPUID"
  } else if (word.leaf === 0x80000001 && word.reg === 'edx') {
    // KVM answers by Intel's spec on Intel hosts: add the bits AMD's spec repeats from leaf 1.
    ret |= supportedReg(supported, 1, 0, 'edx') & AMD_ALIASES;
  } else if (word.leaf === 0x40000001 && word.reg === 'edx') {
    ret |= KVM_HINTS_REALTIME;
  }
  return ret >>> 0;
}
