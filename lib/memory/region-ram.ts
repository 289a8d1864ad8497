/**
 * The host memory behind a region: allocating the RAM block of a RAM, ROM or
 * ROM-device region, and resolving an offset in a region (through its alias
 * chain) to its block and the offset inside it.
 */
import { MemoryRegionError } from './errors';
import { checkOptions } from '../options';
import { defaultRamList, RAM_BLOCK_OPTIONS, type RamBlock, type RamBlockOptions, type RamList } from './ram-block';
import type { MemoryRegion } from './region';
import { aliasTarget } from './region-links';
import { toAddress, toRegionSize } from './size';
import { hex } from '../util/hex';

export interface RamRegionOptions extends RamBlockOptions {
  /** RAM list to allocate the block in (default: the process-wide one) */
  ramList?: RamList;
}

/** qemu_ram_alloc for a new region of `mr._size` bytes */
export function attachRamBlock(mr: MemoryRegion, opts: RamRegionOptions): void {
  if (mr._size === 0n) throw new RangeError(`${mr.kind} region "${mr.name}" needs a size greater than 0`);
  const { ramList, ...blockOpts } = checkOptions(opts, { ...RAM_BLOCK_OPTIONS, ramList: true }, `MemoryRegion.${mr.kind}()`);
  const list = ramList ?? defaultRamList;
  mr._ramBlock = list.allocate(mr.name, mr._size, blockOpts, mr);
  mr._ramList = list;
}

/** the RAM block showing `offset` of `mr` (alias chain followed), and the offset in it */
export function resolveRam(mr: MemoryRegion, offset: bigint | number): { block: RamBlock; off: bigint } {
  const { region, offset: off } = aliasTarget(mr, toAddress(offset, 'offset'));
  const block = region._ramBlock;
  if (!block) {
    throw new MemoryRegionError(`region "${mr.name}" has no RAM block (it is ${region.kind === 'alias' ? 'an alias' : 'a ' + region.kind + ' region'}); only RAM, ROM and ROM devices have host memory`);
  }
  if (off >= block.maxLength) {
    throw new RangeError(`offset ${hex(off)} is outside RAM block "${block.idstr}" (${hex(block.maxLength)} bytes)`);
  }
  return { block, off };
}

/**
 * Zero-copy view of `mr`'s RAM (alias chain followed); without a length, the
 * rest of the region clamped to the RAM block's used length.
 */
export function regionBytes(mr: MemoryRegion, offset: bigint | number, length: bigint | number | undefined): Uint8Array {
  const { block, off } = resolveRam(mr, offset);
  let len: bigint;
  if (length === undefined) {
    const inRegion = mr._size - toAddress(offset, 'offset');
    const inBlock = block.usedLength - off;
    len = inRegion < inBlock ? inRegion : inBlock;
    if (len < 0n) len = 0n;
  } else {
    len = toRegionSize(length, 'length');
  }
  return block.bytes(off, len);
}
