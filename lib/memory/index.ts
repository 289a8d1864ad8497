/**
 * node-kvm memory model: QEMU 7.2's MemoryRegion / AddressSpace / FlatView.
 */
import { hexPadded } from '../util/hex';

export { MemoryRegion, UNASSIGNED_IO_OPS, UNASSIGNED_MEM_OPS } from './region';
export type { RegionKind, RamRegionOptions } from './region';
export { AddressSpace, addressSpaces } from './address-space';
export { FlatRange, FlatView } from './flat-view';
export type { MemoryRegionSection } from './section';
export { sectionFromFlatRange } from './section';
export {
  RamBlock, RamList, defaultRamList, PAGE_SIZE, RAM_OFFSET_ALIGN, RAM_ADDR_MAX,
  RAM_PREALLOC, RAM_SHARED, RAM_RESIZEABLE, RAM_NORESERVE,
} from './ram-block';
export type { RamBlockOptions } from './ram-block';
export { MemTxResult, DIRTY_MEMORY_VGA, DIRTY_MEMORY_CODE, DIRTY_MEMORY_MIGRATION } from './types';
export type {
  AccessConstraints, DeviceEndianness, MemoryListener, MemoryRegionOps, ValidConstraints,
} from './types';
export { formatMtree, formatTreeOf } from './mtree';
export type { MtreeOptions } from './mtree';
export {
  transaction, beginTransaction, commitTransaction, transactionDepth,
  startGlobalDirtyLog, stopGlobalDirtyLog, globalDirtyLogActive,
} from './transaction';
export { renderFlatView, flatviewRoot, simplify } from './render';
export { dispatchMmio, memoryAccessSize, accessValid } from './dispatch';
export { MemoryRegionError, RamBlockError } from './errors';
export { TWO_64, UINT64_MAX, toRegionSize, toAddress } from './size';
export type { IoEventfd, RegionEventfd } from './ioeventfd';

/** @deprecated `%016" PRIx64` (exported since 0.1): hexPadded(v, 16) of lib/util/hex.ts is the one formatter */
export const hex16 = (v: bigint): string => hexPadded(v, 16);
