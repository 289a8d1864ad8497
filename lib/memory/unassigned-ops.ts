/**
 * QEMU's two "nothing is here" op tables: what a region without device
 * callbacks answers, and what the `io` root answers.
 */
import type { MemoryRegionOps } from './types';

/**
 * unassigned_mem_ops: what containers, RAM/ROM (for non-direct accesses such
 * as ROM writes), reservations and address-space gaps answer.  Every access
 * is rejected (MEMTX_DECODE_ERROR), reads give 0.
 */
export const UNASSIGNED_MEM_OPS: MemoryRegionOps = Object.freeze({
  read: () => 0,
  write: () => undefined,
  endianness: 'native' as const,
  valid: Object.freeze({ accepts: () => false }),
});

/**
 * unassigned_io_ops: the ops of QEMU's `io` root region.  Reads give all
 * ones, writes are ignored, both succeed (MEMTX_OK).
 */
export const UNASSIGNED_IO_OPS: MemoryRegionOps = Object.freeze({
  read: () => -1,
  write: () => undefined,
  endianness: 'native' as const,
});
