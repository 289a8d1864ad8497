/**
 * MemoryRegionSection: what listeners receive, built from a FlatRange
 * (QEMU section_from_flat_range).  romd mode and the dirty mask are not part
 * of a section; listeners read them from `mr`.
 */
import type { AddressSpace } from './address-space';
import type { FlatRange } from './flat-view';
import type { MemoryRegion } from './region';

export interface MemoryRegionSection {
  readonly mr: MemoryRegion;
  readonly addressSpace: AddressSpace;
  readonly offsetWithinRegion: bigint;
  /** 65-bit size */
  readonly size: bigint;
  readonly offsetWithinAddressSpace: bigint;
  readonly readonly: boolean;
  readonly nonvolatile: boolean;
}

export function sectionFromFlatRange(fr: FlatRange, as: AddressSpace): MemoryRegionSection {
  return Object.freeze({
    mr: fr.mr,
    addressSpace: as,
    offsetWithinRegion: fr.offsetInRegion,
    size: fr.size,
    offsetWithinAddressSpace: fr.start,
    readonly: fr.readonly,
    nonvolatile: fr.nonvolatile,
  });
}
