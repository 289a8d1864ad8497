/**
 * Public types shared by the memory model files.
 */
import type { IoEventfd } from './ioeventfd';
import type { MemoryRegionSection } from './section';

/** MemTxResult bits (QEMU include/exec/memattrs.h); chunk results are ORed. */
export const MemTxResult = {
  OK: 0,
  /** device returned an error */
  ERROR: 1,
  /** nothing there, or an access the device declares invalid */
  DECODE_ERROR: 2,
  /** access denied */
  ACCESS_ERROR: 4,
} as const;
export type MemTxResult = number;

/**
 * Device endianness (QEMU's enum device_endian).  'native' is the target's
 * order, which is little-endian for x86; 'host' means "no swap" (the host is
 * little-endian on x86-64, the only host this package supports).
 */
export type DeviceEndianness = 'little' | 'big' | 'native' | 'host';

export interface AccessConstraints {
  /** smallest access the device accepts / implements (0 or absent = 1) */
  minAccessSize?: number;
  /**
   * largest access. For `valid`, 0 or absent means "any size is valid" (min is
   * then ignored too, QEMU's compatibility rule) and 4 bytes for splitting;
   * for `impl`, 0 or absent means 4.
   */
  maxAccessSize?: number;
  /** unaligned accesses are allowed (valid) / implemented (impl) */
  unaligned?: boolean;
}

export interface ValidConstraints extends AccessConstraints {
  /** QEMU's valid.accepts: return false to reject an access (DECODE_ERROR) */
  accepts?(offset: bigint, size: number, isWrite: boolean): boolean;
}

/**
 * MMIO / PIO callbacks, QEMU's MemoryRegionOps.  Offsets are relative to the
 * start of the region; values are unsigned, at most 64 bits.
 */
export interface MemoryRegionOps {
  read?(offset: bigint, size: number): number | bigint;
  write?(offset: bigint, value: bigint, size: number): void;
  endianness?: DeviceEndianness;
  valid?: ValidConstraints;
  impl?: AccessConstraints;
}

/**
 * A memory listener (QEMU MemoryListener).  Forward callbacks (begin, commit,
 * regionAdd, regionNop, logStart, logGlobalStart) run in ascending priority;
 * reverse ones (regionDel, logStop, logGlobalStop) in descending priority.
 */
export interface MemoryListener {
  priority?: number;
  begin?(): void;
  commit?(): void;
  regionAdd?(s: MemoryRegionSection): void;
  regionDel?(s: MemoryRegionSection): void;
  regionNop?(s: MemoryRegionSection): void;
  logStart?(s: MemoryRegionSection, oldMask: number, newMask: number): void;
  logStop?(s: MemoryRegionSection, oldMask: number, newMask: number): void;
  logGlobalStart?(): void;
  logGlobalStop?(): void;
  /** an ioeventfd appeared in this address space (reverse priority order: QEMU's quirk) */
  eventfdAdd?(e: IoEventfd): void;
  /** an ioeventfd went away (forward priority order) */
  eventfdDel?(e: IoEventfd): void;
  /**
   * Accelerator hook for `info mtree -f`: after each FlatRange the name is
   * printed when hasMemory(start, size) is true (QEMU's AccelClass has_memory).
   */
  accelName?: string;
  hasMemory?(start: bigint, size: bigint): boolean;
}

/** Dirty memory clients (bits of MemoryRegion.dirtyLogMask). */
export const DIRTY_MEMORY_VGA = 0;
export const DIRTY_MEMORY_CODE = 1;
export const DIRTY_MEMORY_MIGRATION = 2;
