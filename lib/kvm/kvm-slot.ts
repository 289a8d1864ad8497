// A KVM memory slot as the kernel keeps it (struct kvm_userspace_memory_region,
// QEMU's KVMSlot): its record, flag bits and limits, and the wording shared by
// every refusal of a slot beyond the guest's physical-address width.
import { kvmConstant } from '../binding';
import { PAGE_SIZE } from '../memory/ram-block';
import { hex } from '../util/hex';

export const KVM_MEM_LOG_DIRTY_PAGES = 1;
export const KVM_MEM_READONLY = 2;
/** KVM_MEM_MAX_NR_PAGES on x86: (1 << 31) - 1 host pages (4 KiB on x86-64) per slot */
export const KVM_MAX_SLOT_SIZE = ((1n << 31n) - 1n) * PAGE_SIZE;

/** One live KVM memory slot, as the kernel has it. */
export interface KvmSlot {
  /** slot id inside its address space (the ioctl's slot field is slot | asId << 16) */
  slot: number;
  asId: number;
  flags: number;
  guestPhysAddr: bigint;
  memorySize: bigint;
  userspaceAddr: bigint;
}

/** The slot field of KVM_SET_USER_MEMORY_REGION and KVM_GET_DIRTY_LOG: the id in bits 0..15, the address space id above. */
export function slotField(id: number, asId: number): number {
  return id | (asId << 16);
}

/** Ascending order of two guest addresses (for sort()): lib/util/compare.ts's, re-exported for the slot code. */
export { compareAddresses } from '../util/compare';

/** What bounds a guest's physical addresses, as every message about it names it. */
export const GUEST_PHYS_WIDTH = "the guest's physical-address width (CPUID 0x80000008 EAX[7:0] of KVM_GET_SUPPORTED_CPUID)";

/** The advice for memory at or above the guest's address width 2^N (`limit`): it is no host-memory problem. */
export function belowPhysWidthAdvice(what: string, limit: bigint): string {
  return `This is the guest's address width, not a lack of host memory: place ${what} below ${hex(limit)}`;
}

/** KVM_MEM_* flag values from the addon (checked against our constants once). */
export function checkSlotFlagConstants(): void {
  if (kvmConstant('KVM_MEM_LOG_DIRTY_PAGES') !== KVM_MEM_LOG_DIRTY_PAGES || kvmConstant('KVM_MEM_READONLY') !== KVM_MEM_READONLY) {
    throw new Error('node-kvm: unexpected KVM_MEM_* flag values');
  }
}
