// Dirty-page bookkeeping shared by the KVM memory listeners of one VM.
//
// KVM_GET_DIRTY_LOG reports guest writes per slot (and clears the kernel's
// log); host writes made through the memory model are in each RamBlock's
// host-dirty bitmap.  Everything is kept per RamBlock, one bit per 4 KiB page
// of the block (bit i = byte i>>3, mask 1 << (i & 7): the same layout as
// RamBlock.takeHostDirty() and, on a little-endian host, as KVM's u64 words),
// so slots that come and go (a split, a moved BAR) never lose bits: a logging
// slot's bits are collected before it is deleted, like QEMU's
// kvm_slot_sync_dirty_pages on region_del.
import type { RamBlock } from '../memory/ram-block';

export const DIRTY_PAGE_SHIFT = 12n;

/** Bytes of a KVM dirty bitmap for `size` bytes of slot: ALIGN(pages, 64) / 8. */
export function kvmBitmapBytes(size: bigint): number {
  const pages = Number((size + 4095n) >> DIRTY_PAGE_SHIFT);
  return Math.ceil(pages / 64) * 8;
}

export class DirtyTracker {
  private readonly pending = new Map<RamBlock, Uint8Array>();

  private bitmapFor(block: RamBlock): Uint8Array {
    let b = this.pending.get(block);
    if (b === undefined) {
      b = new Uint8Array(Math.ceil(Number(block.maxLength >> DIRTY_PAGE_SHIFT) / 8));
      this.pending.set(block, b);
    }
    return b;
  }

  /**
   * OR a slot's KVM bitmap (`pages` pages) into the block's pending bits,
   * starting at page `firstPage` of the block.
   */
  addSlotBitmap(block: RamBlock, firstPage: number, bitmap: Uint8Array, pages: number): void {
    let dst: Uint8Array | undefined;
    for (let byte = 0; byte * 8 < pages; byte++) {
      const v = bitmap[byte];
      if (v === 0) continue;
      dst ??= this.bitmapFor(block);
      for (let bit = 0; bit < 8; bit++) {
        if ((v & (1 << bit)) === 0) continue;
        const i = byte * 8 + bit;
        if (i >= pages) break;
        const p = firstPage + i;
        dst[p >> 3] |= 1 << (p & 7);
      }
    }
  }

  /**
   * The block's dirty pages (guest bits collected so far plus the host's
   * own writes), as a bitmap; both sources are cleared.
   */
  take(block: RamBlock): Uint8Array {
    const host = block.takeHostDirty();
    const mine = this.pending.get(block);
    if (mine !== undefined) {
      for (let i = 0; i < host.length && i < mine.length; i++) host[i] |= mine[i];
      this.pending.delete(block);
    }
    return host;
  }

  /** Forget a freed block. */
  drop(block: RamBlock): void {
    this.pending.delete(block);
  }
}

/** Page numbers whose bit is set, below `limitPages`. */
export function pagesOf(bitmap: Uint8Array, limitPages: number): number[] {
  const out: number[] = [];
  for (let byte = 0; byte < bitmap.length; byte++) {
    const v = bitmap[byte];
    if (v === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      const p = byte * 8 + bit;
      if (p >= limitPages) return out;
      if (v & (1 << bit)) out.push(p);
    }
  }
  return out;
}
