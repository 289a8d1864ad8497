/**
 * FlatRange / FlatView: the rendered, non-overlapping view of an address
 * space (QEMU softmmu/memory.c).  A FlatView is immutable once built; a
 * re-render produces a new object, which is what listeners are diffed against.
 */
import type { MemoryRegion } from './region';

export class FlatRange {
  constructor(
    /** the terminating region that answers these addresses */
    readonly mr: MemoryRegion,
    /** offset of `start` from the beginning of `mr` */
    readonly offsetInRegion: bigint,
    readonly start: bigint,
    /** 65-bit size (a range may be 2^64 long) */
    readonly size: bigint,
    readonly dirtyLogMask: number,
    readonly romdMode: boolean,
    readonly readonly: boolean,
    readonly nonvolatile: boolean,
  ) {}

  /** exclusive end */
  get end(): bigint {
    return this.start + this.size;
  }

  /**
   * QEMU's flatrange_equal: everything but the dirty log mask (a mask change
   * is reported as log_start/log_stop on an otherwise unchanged range).
   */
  equals(o: FlatRange): boolean {
    return this.mr === o.mr && this.start === o.start && this.size === o.size &&
      this.offsetInRegion === o.offsetInRegion && this.romdMode === o.romdMode &&
      this.readonly === o.readonly && this.nonvolatile === o.nonvolatile;
  }

  /** QEMU's can_merge: j directly continues this range in address and region offset. */
  canMerge(j: FlatRange): boolean {
    return this.start + this.size === j.start && this.mr === j.mr &&
      this.offsetInRegion + this.size === j.offsetInRegion &&
      this.dirtyLogMask === j.dirtyLogMask && this.romdMode === j.romdMode &&
      this.readonly === j.readonly && this.nonvolatile === j.nonvolatile;
  }
}

export class FlatView {
  /** sorted by start, non-overlapping */
  readonly ranges: readonly FlatRange[];
  /** the flatview root the view was rendered from (null: nothing to render) */
  readonly root: MemoryRegion | null;
  /**
   * @internal the root's own address when the view was rendered: render
   * starts at base = root.addr, so a view can only be patched in place
   * while that address is unchanged
   */
  readonly _rootAddr: bigint;
  /** @internal starts as a plain array for allocation-free binary search */
  readonly _starts: bigint[];

  /** `starts` is internal: a patched view passes the spliced array along */
  constructor(root: MemoryRegion | null, ranges: FlatRange[], starts?: bigint[]) {
    this.root = root;
    this._rootAddr = root === null ? 0n : root._addr;
    this.ranges = Object.freeze(ranges);
    this._starts = starts ?? ranges.map((r) => r.start);
  }

  /** index of the range containing addr, or -1 (a gap: QEMU's unassigned section) */
  indexOf(addr: bigint): number {
    const s = this._starts;
    let lo = 0;
    let hi = s.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid] <= addr) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return -1;
    const r = this.ranges[found];
    return addr < r.start + r.size ? found : -1;
  }

  lookup(addr: bigint): FlatRange | undefined {
    const i = this.indexOf(addr);
    return i < 0 ? undefined : this.ranges[i];
  }

  /** index of the first range that ends after addr (may not contain it), or ranges.length */
  firstEndingAfter(addr: bigint): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid];
      if (r.start + r.size <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** @internal index of the first range that starts after addr, or ranges.length */
  firstStartingAfter(addr: bigint): number {
    const s = this._starts;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid] <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
