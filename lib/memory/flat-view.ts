/**
 * FlatRange / FlatView: the rendered, non-overlapping view of an address
 * space (QEMU softmmu/memory.c).  A FlatView is immutable once built; a
 * re-render produces a new object, which is what listeners are diffed against.
 */
import type { MemoryRegion } from './region';
import { lowerBound } from '../util/lower-bound';

/** FlatRange._flags: romd mode, readonly, nonvolatile, and the dirty log mask times 8 above them */
const ROMD = 1;
const RO = 2;
const NV = 4;
const FLAG_BITS = 8;

export class FlatRange {
  /**
   * @internal the four small attributes in one integer: a view of 100,000
   * ranges keeps 100,000 of these objects alive through every scavenge of
   * the render that makes them, and three fields fewer make each a quarter
   * smaller (64 bytes instead of 88)
   */
  readonly _flags: number;

  constructor(
    /** the terminating region that answers these addresses */
    readonly mr: MemoryRegion,
    /** offset of `start` from the beginning of `mr` */
    readonly offsetInRegion: bigint,
    readonly start: bigint,
    /** 65-bit size (a range may be 2^64 long) */
    readonly size: bigint,
    dirtyLogMask: number,
    romdMode: boolean,
    readonly: boolean,
    nonvolatile: boolean,
  ) {
    // arithmetic, not shifts: exact for any mask a caller passes
    this._flags = dirtyLogMask * FLAG_BITS + (romdMode ? ROMD : 0) + (readonly ? RO : 0) + (nonvolatile ? NV : 0);
  }

  get dirtyLogMask(): number {
    const f = this._flags;
    return (f - (f & 7)) / FLAG_BITS;
  }

  get romdMode(): boolean {
    return (this._flags & ROMD) !== 0;
  }

  get readonly(): boolean {
    return (this._flags & RO) !== 0;
  }

  get nonvolatile(): boolean {
    return (this._flags & NV) !== 0;
  }

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
      this.offsetInRegion === o.offsetInRegion && (this._flags & 7) === (o._flags & 7);
  }

  /**
   * QEMU's can_merge: j directly continues this range in address and region
   * offset.  The region is compared first: neighbours of different regions
   * (most of them) are told apart without computing two bigint sums.
   */
  canMerge(j: FlatRange): boolean {
    return this.mr === j.mr && this._flags === j._flags && this.start + this.size === j.start &&
      this.offsetInRegion + this.size === j.offsetInRegion;
  }
}

/**
 * Ranges per chunk of a FlatView.  Views are immutable and a patched view
 * shares every chunk the patch did not touch with the view it came from, so
 * a commit that changes a few ranges costs O(chunks + changed), not O(ranges).
 */
export const flatChunk = { size: 128 };

/** @internal tests use tiny chunks to exercise chunk boundaries; returns the previous size */
export function setFlatChunkSize(n: number): number {
  const was = flatChunk.size;
  flatChunk.size = n;
  return was;
}

export class FlatView {
  /** the flatview root the view was rendered from (null: nothing to render) */
  readonly root: MemoryRegion | null;
  /**
   * @internal the root's own address when the view was rendered: render
   * starts at base = root.addr, so a view can only be patched in place
   * while that address is unchanged
   */
  readonly _rootAddr: bigint;
  /** @internal consecutive runs of the sorted ranges; each non-empty, never modified */
  readonly _chunks: readonly (readonly FlatRange[])[];
  /** @internal start of each chunk's first range */
  readonly _chunkStarts: readonly bigint[];
  /** @internal index (in `ranges`) of each chunk's first range */
  readonly _chunkBases: readonly number[];
  /** @internal number of ranges */
  readonly _count: number;
  private flat: readonly FlatRange[] | null;
  /**
   * @internal the damage epoch this view is current for: it shows every
   * change recorded before that epoch began (-1: unknown, never patched)
   */
  _epoch = -1;

  constructor(root: MemoryRegion | null, ranges: FlatRange[]) {
    this.root = root;
    this._rootAddr = root === null ? 0n : root._addr;
    const chunks: FlatRange[][] = [];
    const size = flatChunk.size;
    // sliced before the freeze: V8's slice of a frozen array takes a generic
    // path, 25 times slower (10 ms of a 100,000-range view)
    for (let i = 0; i < ranges.length; i += size) chunks.push(ranges.slice(i, i + size));
    this.flat = Object.freeze(ranges);
    this._chunks = chunks;
    this._chunkStarts = chunks.map((c) => c[0].start);
    const bases: number[] = [];
    for (let i = 0; i < chunks.length; i++) bases.push(i * size);
    this._chunkBases = bases;
    this._count = ranges.length;
  }

  /** @internal a view made of (shared) chunks; `ranges` is built on first use */
  static _fromChunks(root: MemoryRegion | null, chunks: FlatRange[][]): FlatView {
    const v: FlatView = Object.create(FlatView.prototype);
    const starts: bigint[] = new Array(chunks.length);
    const bases: number[] = new Array(chunks.length);
    let n = 0;
    for (let i = 0; i < chunks.length; i++) {
      starts[i] = chunks[i][0].start;
      bases[i] = n;
      n += chunks[i].length;
    }
    const fields = { root, _rootAddr: root === null ? 0n : root._addr, _chunks: chunks, _chunkStarts: starts, _chunkBases: bases, _count: n, flat: null, _epoch: -1 };
    return Object.assign(v, fields);
  }

  /** sorted by start, non-overlapping (a frozen array, built on first use) */
  get ranges(): readonly FlatRange[] {
    let f = this.flat;
    if (f === null) {
      const all: FlatRange[] = [];
      for (const c of this._chunks) for (let i = 0; i < c.length; i++) all.push(c[i]);
      f = this.flat = Object.freeze(all);
    }
    return f;
  }

  /** @internal the range at index i of `ranges` */
  _at(i: number): FlatRange {
    const c = this._chunkOfIndex(i);
    return this._chunks[c][i - this._chunkBases[c]];
  }

  /** @internal ranges[from, to) as a new array */
  _slice(from: number, to: number): FlatRange[] {
    const out: FlatRange[] = [];
    if (from >= to) return out;
    let c = this._chunkOfIndex(from);
    let j = from - this._chunkBases[c];
    for (let i = from; i < to; i++) {
      const ch = this._chunks[c];
      out.push(ch[j]);
      if (++j === ch.length) {
        c++;
        j = 0;
      }
    }
    return out;
  }

  /** @internal the chunk holding index i (0 <= i < count) */
  _chunkOfIndex(i: number): number {
    const b = this._chunkBases;
    // chunk 0 starts at index 0: the answer is how many later chunks start at or before i
    return lowerBound(b.length - 1, nextAtOrBefore, b, i);
  }

  /** last chunk whose first range starts at or before addr, or -1 */
  private chunkAtOrBefore(addr: bigint): number {
    const s = this._chunkStarts;
    return lowerBound(s.length, atOrBefore, s, addr) - 1;
  }

  /** index of the range containing addr, or -1 (a gap: QEMU's unassigned section) */
  indexOf(addr: bigint): number {
    const c = this.chunkAtOrBefore(addr);
    if (c < 0) return -1;
    const ch = this._chunks[c];
    const i = lastStartingAtOrBefore(ch, addr);
    const r = ch[i];
    return addr < r.start + r.size ? this._chunkBases[c] + i : -1;
  }

  /** the range containing addr, or undefined (the dispatch path: no allocation) */
  lookup(addr: bigint): FlatRange | undefined {
    const c = this.chunkAtOrBefore(addr);
    if (c < 0) return undefined;
    const ch = this._chunks[c];
    const r = ch[lastStartingAtOrBefore(ch, addr)];
    return addr < r.start + r.size ? r : undefined;
  }

  /** index of the first range that ends after addr (may not contain it), or ranges.length */
  firstEndingAfter(addr: bigint): number {
    const chunks = this._chunks;
    // first chunk whose last range ends after addr (ends ascend like starts)
    const c = lowerBound(chunks.length, lastEndsAtOrBefore, chunks, addr);
    if (c === chunks.length) return this._count;
    const ch = chunks[c];
    // its last range ends after addr: only the ones before it need a look
    return this._chunkBases[c] + lowerBound(ch.length - 1, endsAtOrBefore, ch, addr);
  }

  /** @internal index of the first range that starts after addr, or ranges.length */
  firstStartingAfter(addr: bigint): number {
    const c = this.chunkAtOrBefore(addr);
    if (c < 0) return 0;
    const ch = this._chunks[c];
    return this._chunkBases[c] + lowerBound(ch.length, startsAtOrBefore, ch, addr);
  }
}

/** Index of the last range of a (non-empty, sorted) chunk that starts at or before addr; 0 if none does. */
function lastStartingAtOrBefore(ch: readonly FlatRange[], addr: bigint): number {
  return lowerBound(ch.length - 1, nextStartsAtOrBefore, ch, addr);
}

// The predicates of the searches above, as lowerBound(length, before, a, b)
// calls them: module-level functions, so the hot paths allocate no closure.

function atOrBefore<T extends bigint | number>(i: number, keys: readonly T[], key: T): boolean {
  return keys[i] <= key;
}

function nextAtOrBefore<T extends bigint | number>(i: number, keys: readonly T[], key: T): boolean {
  return keys[i + 1] <= key;
}

function startsAtOrBefore(i: number, ch: readonly FlatRange[], addr: bigint): boolean {
  return ch[i].start <= addr;
}

function nextStartsAtOrBefore(i: number, ch: readonly FlatRange[], addr: bigint): boolean {
  return ch[i + 1].start <= addr;
}

function endsAtOrBefore(i: number, ch: readonly FlatRange[], addr: bigint): boolean {
  const r = ch[i];
  return r.start + r.size <= addr;
}

function lastEndsAtOrBefore(i: number, chunks: readonly (readonly FlatRange[])[], addr: bigint): boolean {
  return endsAtOrBefore(chunks[i].length - 1, chunks[i], addr);
}
