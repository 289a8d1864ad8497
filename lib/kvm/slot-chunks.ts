// The planning half of QEMU's kvm_set_phys_mem: which flat-view sections get
// KVM slots, with which flags, and how a section becomes page-aligned,
// slot-sized chunks (kvm_align_section, then the split at the per-slot size
// limit) plus the ranges that stay trapped.  Pure: it depends only on the
// section and the policy, so a deletion finds the same chunks again.
import { PAGE_SIZE, type RamBlock } from '../memory/ram-block';
import type { MemoryRegionSection } from '../memory/section';
import { KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from './kvm-slot';
import { byStart, type TrappedRange, type TrappedReason } from './trapped-ranges';

const PAGE_MASK = PAGE_SIZE - 1n;
const PAGE_SHIFT = 12n;

/** A page-aligned piece of a section, i.e. one slot's worth. */
export interface Chunk {
  /** rangeKey(gpa, size): a chunk is found again by its guest range */
  key: string;
  gpa: bigint;
  size: bigint;
  ua: bigint;
  flags: number;
  block: RamBlock;
  /** page index inside the block of the chunk's first page */
  blockPage: number;
  /** the section's region name, for trapped() */
  region: string;
}

/** What a section gives KVM: slot-sized chunks, and the ranges that stay trapped (ascending). */
export interface SectionPlan {
  chunks: Chunk[];
  trapped: TrappedRange[];
}

/** The listener's fixed choices that shape its chunks. */
export interface ChunkPolicy {
  asId: number;
  /** a page multiple, at most KVM_MAX_SLOT_SIZE */
  maxSlotSize: bigint;
  /** read-only slots are used (KVM_CAP_READONLY_MEM and not turned off) */
  readonlyMem: boolean;
  /** 2^(the guest's physical-address width): no slot reaches beyond it */
  physLimit: bigint;
}

/** The key of a guest range, for the maps of slots and trapped ranges. */
export function rangeKey(gpa: bigint, size: bigint): string {
  return `${gpa.toString(16)}+${size.toString(16)}`;
}

/**
 * kvm_mem_flags, but read-only follows the *section* (a read-only alias
 * of RAM gets KVM_MEM_READONLY), deliberately unlike QEMU 7.2.
 */
function slotFlags(s: MemoryRegionSection, readonlyMem: boolean): number {
  const mr = s.mr;
  let f = 0;
  if (mr.dirtyLogMask !== 0) f |= KVM_MEM_LOG_DIRTY_PAGES;
  if (readonlyMem && (s.readonly || mr.readonly || (mr.isRomDevice && mr.romdMode))) f |= KVM_MEM_READONLY;
  return f;
}

/** Does this section get a slot now?  (kvm_set_phys_mem's filter) */
export function wantsSlot(s: MemoryRegionSection, readonlyMem: boolean): boolean {
  const mr = s.mr;
  if (mr.isRam) return mr.ramBlock !== null;
  // ROM device: a read-only slot only in romd mode and only if KVM can
  // make it read-only; otherwise every access traps to the device.
  if (mr.isRomDevice) return mr.romdMode && readonlyMem && mr.ramBlock !== null;
  return false;
}

/**
 * Could this section have had a slot?  Decided by the region's kind, not its
 * state now: a ROM device that just left romd mode must lose its slot.
 */
export function mayHaveSlot(s: MemoryRegionSection): boolean {
  return (s.mr.isRam || s.mr.isRomDevice) && s.mr.ramBlock !== null;
}

/**
 * kvm_align_section + the max-slot-size split, and the parts of the section
 * that cannot be a slot (see TrappedReason).  `withHost` false: no host
 * address or flags (for a deletion: the block may be freed already).
 * Sections point at terminal regions (the flat view resolved the aliases).
 */
export function planSection(s: MemoryRegionSection, policy: ChunkPolicy, withHost: boolean): SectionPlan {
  const gpa0 = s.offsetWithinAddressSpace;
  const end0 = gpa0 + s.size;
  const region = s.mr.name;
  const trapped: TrappedRange[] = [];
  const trap = (from: bigint, to: bigint, reason: TrappedReason) => {
    if (to > from) trapped.push({ start: from, size: to - from, reason, asId: policy.asId, region });
  };
  const start = (gpa0 + PAGE_MASK) & ~PAGE_MASK;
  let end = end0 & ~PAGE_MASK;
  if (end <= start) {
    trap(gpa0, end0, 'sub-page');
    return { chunks: [], trapped };
  }
  trap(gpa0, start, 'sub-page');
  trap(end, end0, 'sub-page');
  const regionOff = s.offsetWithinRegion + (start - gpa0);
  if ((regionOff & PAGE_MASK) !== 0n) {
    // the kernel refuses a slot whose host and guest addresses differ modulo the page (EINVAL)
    trap(start, end, 'incongruent');
    return { chunks: [], trapped: trapped.sort(byStart) };
  }
  const { physLimit, maxSlotSize } = policy;
  if (end > physLimit) {
    trap(start > physLimit ? start : physLimit, end, 'above-phys-bits');
    end = start > physLimit ? start : physLimit;
  }
  const block = s.mr.ramBlock!;
  const ua = withHost ? block.hostAddress + regionOff : 0n;
  const flags = withHost ? slotFlags(s, policy.readonlyMem) : 0;
  const chunks: Chunk[] = [];
  for (let off = 0n; off < end - start; off += maxSlotSize) {
    const rest = end - start - off;
    const size = rest < maxSlotSize ? rest : maxSlotSize;
    chunks.push({
      key: rangeKey(start + off, size), gpa: start + off, size, ua: ua + off, flags, block,
      blockPage: Number((regionOff + off) >> PAGE_SHIFT), region,
    });
  }
  return { chunks, trapped: trapped.sort(byStart) };
}
