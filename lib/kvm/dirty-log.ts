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
  const pages = Number((size + (1n << DIRTY_PAGE_SHIFT) - 1n) >> DIRTY_PAGE_SHIFT);
  return Math.ceil(pages / 64) * 8;
}

export class DirtyTracker {
  /** Guest bits collected from KVM, per block: one bit per page, 32 pages a word. */
  private readonly pending = new Map<RamBlock, Uint32Array>();

  private wordsFor(block: RamBlock): Uint32Array {
    let w = this.pending.get(block);
    if (w === undefined) {
      w = new Uint32Array(Math.ceil(Number(block.maxLength >> DIRTY_PAGE_SHIFT) / 64) * 2);
      this.pending.set(block, w);
    }
    return w;
  }

  /**
   * OR a slot's KVM bitmap (`pages` pages, u64 words as KVM writes them) into
   * the block's pending bits, starting at page `firstPage` of the block.
   * Word-wise when the slot starts on a 32-page boundary (the usual case).
   */
  addSlotBitmap(block: RamBlock, firstPage: number, bitmap: Uint8Array | Uint32Array, pages: number): void {
    const src = bitmap instanceof Uint32Array ? bitmap : new Uint32Array(bitmap.buffer, bitmap.byteOffset, bitmap.byteLength >> 2);
    const words = Math.ceil(pages / 32);
    if ((firstPage & 31) === 0) {
      const base = firstPage >> 5;
      let dst: Uint32Array | undefined;
      for (let i = 0; i < words; i++) {
        let w = src[i]!;
        if (w === 0) continue;
        if (i === words - 1 && (pages & 31) !== 0) w &= (1 << (pages & 31)) - 1;
        dst ??= this.wordsFor(block);
        dst[base + i] |= w;
      }
      return;
    }
    for (let i = 0; i < words; i++) {
      let w = src[i]!;
      while (w !== 0) {
        const bit = 31 - Math.clz32(w & -w);
        w &= w - 1;
        const p = i * 32 + bit;
        if (p >= pages) break;
        const dst = this.wordsFor(block);
        const q = firstPage + p;
        dst[q >> 5] |= 1 << (q & 31);
      }
    }
  }

  /**
   * The block's dirty pages below `limitPages` (guest bits collected so far
   * plus the host's own writes), ascending; both sources are cleared.
   */
  takePages(block: RamBlock, limitPages: number): number[] {
    const host = block.hostDirtyWords();
    const mine = this.pending.get(block);
    const out: number[] = [];
    const words = Math.min(host.length, Math.ceil(limitPages / 32));
    for (let i = 0; i < words; i++) {
      let w = host[i]! | (mine === undefined ? 0 : mine[i]!);
      if (w === 0) continue;
      host[i] = 0;
      if (mine !== undefined) mine[i] = 0;
      while (w !== 0) {
        const p = i * 32 + 31 - Math.clz32(w & -w);
        if (p >= limitPages) break;
        out.push(p);
        w &= w - 1;
      }
    }
    return out;
  }

  /** Forget a freed block. */
  drop(block: RamBlock): void {
    this.pending.delete(block);
  }
}
