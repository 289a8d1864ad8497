/**
 * The gap filling of one render (QEMU render_memory_region's "fill the
 * gaps" loop), resolved in one sweep over the address space.
 *
 * QEMU fills each terminating region's clip window, in render order, with
 * whatever no earlier window covers.  So an address belongs to the first
 * window (in render order) that contains it, and the pieces a window gets
 * are the maximal runs of addresses it is the first for.  Rather than keep
 * the covered space in a search tree while rendering (a tree of 100,000
 * intervals is searched at random addresses, which misses the CPU caches
 * on every level), the render only records its windows here, as records
 * in blocks of a fixed size, each holding the window's FlatRange (made at
 * once: most windows end up as one piece, that very range); ranges() then
 * sorts them by start (radix sort on the Number keys, linear) and sweeps
 * upwards with a min-heap of the windows that have started, keyed by render
 * order: the top of the heap is the window the current address belongs to.
 * The FlatRanges come out in address order, so nothing sorts them after.
 *
 * Exactness: every bound has a Number key next to its bigint.  Number(x)
 * rounds monotonically, so unequal keys order their bigints, and equal keys
 * below 2^53 are equal addresses; the bigints are compared only where keys
 * of 2^53 and more are equal.  Exact over the whole 65-bit range.
 */
import { FlatRange } from './flat-view';
import type { MemoryRegion } from './region';

/** from 2^53 on a Number no longer holds every integer */
const EXACT = 2 ** 53;

/** a < b, for addresses given as (Number key, bigint) */
function lt(an: number, ab: bigint, bn: number, bb: bigint): boolean {
  return an < bn || (an === bn && an >= EXACT && ab < bb);
}

/**
 * A window's record, in two arrays of fixed strides: the sweep visits the
 * windows in address order, which is not the order they were recorded in,
 * so each window's data sits together.  The references are the window's
 * FlatRange, all of the window (start, region, offset, flags: its piece
 * when nothing earlier covers any of it, which is most windows), and its
 * end (null until needed when the window is all of its region).  Nothing else of the window is kept: at 100,000 windows every byte
 * of a record is copied by the scavenges that run while the render grows,
 * and a record of six references (the region, base, bounds, size and
 * flags, the FlatRange made only at the end) cost 48 bytes more per window
 * than the FlatRange itself.
 */
const NUMS = 2; // start key, end key
const REFS = 2; // the window's FlatRange, end
const START_KEY = 0;
const END_KEY = 1;
const RANGE = 0;
const END = 1;

/** windows per block: records live in blocks of a fixed size, so recording 100,000 windows never copies a grown array */
const BLOCK_BITS = 10;
const BLOCK = 1 << BLOCK_BITS;
const IN_BLOCK = BLOCK - 1;

/** radix digits of the 64-bit key pattern: 6 digits of 11 bits (the last has 9) */
const DIGIT_BITS = 11;
const DIGITS = 6;
const BUCKETS = 1 << DIGIT_BITS;

/** where the high 32 bits of a Float64 sit in its Uint32 view (1 on little-endian hosts) */
const HI = new Uint32Array(Float64Array.of(1).buffer)[1] === 0x3ff00000 ? 1 : 0;

export class FillSweep {
  /**
   * per window (index = render order): NUMS numbers and REFS references, in
   * blocks of BLOCK windows; the first block grows (most renders have a few
   * windows), the others are made at their full size
   */
  private readonly numBlocks: number[][] = [[]];
  private readonly refBlocks: (FlatRange | bigint | null)[][] = [[]];
  private count = 0;

  /**
   * The fill of terminating region `mr` over its clip window [cs, ce) (view
   * addresses, cs < ce), `base` being the view address of mr's offset 0;
   * `whole`: the window is all of mr.  What the FlatRanges need of mr is
   * read now, while the render has mr at hand.
   */
  add(mr: MemoryRegion, base: bigint, cs: bigint, ce: bigint, whole: boolean, ro: boolean, nv: boolean): void {
    // the window is all of mr, the common case: its offset and size need no new bigints
    const fr = new FlatRange(mr, whole ? 0n : cs - base, cs, whole ? mr._size : ce - cs, mr.dirtyLogMask, mr._romdMode, ro, nv);
    const w = this.count++;
    const i = w & IN_BLOCK;
    if (i === 0 && w > 0) {
      this.numBlocks.push(new Array(BLOCK * NUMS));
      this.refBlocks.push(new Array(BLOCK * REFS));
    }
    const nums = this.numBlocks[w >> BLOCK_BITS];
    const refs = this.refBlocks[w >> BLOCK_BITS];
    const n = i * NUMS;
    nums[n + START_KEY] = Number(cs);
    nums[n + END_KEY] = Number(ce);
    const r = i * REFS;
    refs[r + RANGE] = fr;
    // a whole window's end is only asked for where windows overlap (end()
    // computes it then): not keeping `ce` lets the bigint the render made
    // for it die young instead of being copied with the records
    refs[r + END] = whole ? null : ce;
  }

  /** number k of window w */
  private num(w: number, k: number): number {
    return this.numBlocks[w >> BLOCK_BITS][(w & IN_BLOCK) * NUMS + k];
  }

  /** the FlatRange of all of window w */
  private range(w: number): FlatRange {
    return this.refBlocks[w >> BLOCK_BITS][(w & IN_BLOCK) * REFS + RANGE] as FlatRange;
  }

  /** window w's start */
  private start(w: number): bigint {
    return this.range(w).start;
  }

  /** window w's end */
  private end(w: number): bigint {
    const refs = this.refBlocks[w >> BLOCK_BITS];
    const r = (w & IN_BLOCK) * REFS;
    let e = refs[r + END] as bigint | null;
    if (e === null) {
      const fr = refs[r + RANGE] as FlatRange;
      refs[r + END] = e = fr.start + fr.size;
    }
    return e;
  }

/** The FlatRanges of all fills, in address order (not simplified). */
  ranges(): FlatRange[] {
    const n = this.count;
    // one piece per window is the common case: made at that size, truncated or grown at the end
    const out: FlatRange[] = new Array(n);
    let count = 0;
    if (n === 0) return out;
    const sorted = this.startOrder();
    const order = sorted.order;
    const rev = sorted.reversed;
    if (this.disjoint(sorted)) {
      // no two windows overlap (the common case: devices side by side): each is one piece, whole
      if (order !== null) for (let i = 0; i < n; i++) out[i] = this.range(order[i]);
      else if (rev) for (let i = 0; i < n; i++) out[i] = this.range(n - 1 - i);
      else for (let i = 0; i < n; i++) out[i] = this.range(i);
      return out;
    }
    /** min-heap of the windows that have started (and maybe ended since), by render order */
    const heap: number[] = [];
    let size = 0;
    let next = 0;
    let pos = 0n;
    let posKey = 0;
    // the piece being grown: window `pw` from ps to pe
    let pw = -1;
    let ps = 0n;
    let pe = 0n;
    let peKey = 0;
    for (;;) {
      if (size === 0) {
        if (next === n) break;
        const w = at(order, rev, n, next);
        pos = this.start(w);
        posKey = this.num(w, START_KEY);
      }
      // every window starting at or before pos has started
      for (; next < n; next++) {
        const w = at(order, rev, n, next);
        const wKey = this.num(w, START_KEY);
        if (posKey < wKey || (posKey === wKey && posKey >= EXACT && pos < this.start(w))) break;
        size = heapPush(heap, size, w);
      }
      // the earliest window that still covers pos (ended ones leave when they come up)
      while (size > 0 && !lt(posKey, pos, this.num(heap[0], END_KEY), this.end(heap[0]))) size = heapPop(heap, size);
      if (size === 0) continue;
      const w = heap[0];
      // w has every address up to its end or the next start, whichever comes first
      let to = this.end(w);
      let toKey = this.num(w, END_KEY);
      if (next < n) {
        const v = at(order, rev, n, next);
        const vKey = this.num(v, START_KEY);
        const vStart = this.start(v);
        if (lt(vKey, vStart, toKey, to)) {
          to = vStart;
          toKey = vKey;
        }
      }
      if (w !== pw || peKey !== posKey || (posKey >= EXACT && pe !== pos)) {
        if (pw >= 0) out[count++] = this.piece(pw, ps, pe);
        pw = w;
        ps = pos;
      }
      pe = to;
      peKey = toKey;
      pos = to;
      posKey = toKey;
    }
    out[count++] = this.piece(pw, ps, pe);
    out.length = count;
    return out;
  }

  /**
   * Whether the windows, in start order, are pairwise disjoint (each ends
   * at or before the next starts): then every window is its own first
   * window everywhere, and the sweep's heap has nothing to decide.
   */
  private disjoint({ order, reversed, starts, ends }: StartOrder): boolean {
    const n = this.count;
    for (let i = 1; i < n; i++) {
      const p = at(order, reversed, n, i - 1);
      const w = at(order, reversed, n, i);
      const sk = starts === null ? this.num(w, START_KEY) : starts[i];
      const pk = ends === null ? this.num(p, END_KEY) : ends[i - 1];
      if (sk < pk) return false;
      if (sk === pk && sk >= EXACT && this.start(w) < this.end(p)) return false;
    }
    return true;
  }

  /** the FlatRange of window w's piece [a, b) */
  private piece(w: number, a: bigint, b: bigint): FlatRange {
    const fr = this.range(w);
    if (a === fr.start && b === this.end(w)) return fr;
    return new FlatRange(fr.mr, a === fr.start ? fr.offsetInRegion : fr.offsetInRegion + (a - fr.start), a, b - a,
      fr.dirtyLogMask, fr.romdMode, fr.readonly, fr.nonvolatile);
  }

  /**
   * The window numbers by ascending start.  Renders mostly record windows
   * already in address order (or in reverse), which one pass detects;
   * otherwise an LSD radix sort of the keys' bit patterns (non-negative
   * doubles order like their bits), then runs of equal keys of 2^53 and more
   * are put in bigint order.  Windows with equal starts may come in any
   * order: the sweep starts them together.  The radix sort carries the end
   * keys along, so that what reads windows in address order next reads
   * both keys from sorted arrays instead of from records all over memory.
   */
  private startOrder(): StartOrder {
    const n = this.count;
    let ascending = true;
    let descending = true;
    for (let i = 1; i < n && (ascending || descending); i++) {
      const k = this.num(i, START_KEY);
      const pk = this.num(i - 1, START_KEY);
      // the bigints only where the keys cannot tell
      if (k === pk && k >= EXACT) {
        const s = this.start(i);
        const ps = this.start(i - 1);
        if (s < ps) ascending = false;
        if (ps < s) descending = false;
      } else {
        if (k < pk) ascending = false;
        if (pk < k) descending = false;
      }
    }
    if (ascending || descending) {
      // the records are read in (or against) the order they sit in memory:
      // no copies needed, and no array of window numbers either
      return { order: null, reversed: !ascending, starts: null, ends: null };
    }
    const sc = scratchFor(n);
    let order = new Int32Array(sc, 32 * n, n);
    let keys = new Float64Array(sc, 0, n);
    let ends = new Float64Array(sc, 8 * n, n);
    for (let i = 0; i < n; i++) {
      order[i] = i;
      keys[i] = this.num(i, START_KEY);
      ends[i] = this.num(i, END_KEY);
    }
    const counts = histograms(keys);
    let bits = new Uint32Array(sc, 0, 2 * n);
    let order2 = new Int32Array(sc, 36 * n, n);
    let keys2 = new Float64Array(sc, 16 * n, n);
    let ends2 = new Float64Array(sc, 24 * n, n);
    let bits2 = new Uint32Array(sc, 16 * n, 2 * n);
    for (let d = 0; d < DIGITS; d++) {
      const c = counts.subarray(d * BUCKETS, (d + 1) * BUCKETS);
      // a digit all keys share moves nothing
      if (c[digit(bits, 0, d)] === n) continue;
      let sum = 0;
      for (let b = 0; b < BUCKETS; b++) {
        const k = c[b];
        c[b] = sum;
        sum += k;
      }
      for (let i = 0; i < n; i++) {
        const to = c[digit(bits, i, d)]++;
        order2[to] = order[i];
        keys2[to] = keys[i];
        ends2[to] = ends[i];
      }
      [order, order2] = [order2, order];
      [keys, keys2] = [keys2, keys];
      [ends, ends2] = [ends2, ends];
      [bits, bits2] = [bits2, bits];
    }
    // equal keys of 2^53 and more may stand for different addresses
    for (let i = 0; i < n;) {
      let j = i + 1;
      while (j < n && keys[j] === keys[i]) j++;
      if (j - i > 1 && keys[i] >= EXACT) {
        const start = (w: number): bigint => this.start(w);
        const run = Array.from(order.subarray(i, j)).sort((a, b) => (start(a) < start(b) ? -1 : start(a) > start(b) ? 1 : 0));
        order.set(run, i);
        for (let k = i; k < j; k++) ends[k] = this.num(order[k], END_KEY);
      }
      i = j;
    }
    return { order, reversed: false, starts: keys, ends };
  }
}

/**
 * The windows by ascending start, and (when the order is not the one they
 * were recorded in) their start and end keys in that order.
 */
interface StartOrder {
  /** window numbers by start; null: the render order (or its reverse) is the start order */
  order: Int32Array | null;
  reversed: boolean;
  starts: Float64Array | null;
  ends: Float64Array | null;
}

/** the window at place i of the start order */
function at(order: Int32Array | null, reversed: boolean, n: number, i: number): number {
  return order !== null ? order[i] : reversed ? n - 1 - i : i;
}

/** digit d (0 = least significant) of key i's 64-bit pattern */
function digit(bits: Uint32Array, i: number, d: number): number {
  const lo = bits[2 * i + 1 - HI];
  const hi = bits[2 * i + HI];
  const shift = d * DIGIT_BITS;
  // the digit of bits 22..32 straddles the two words
  const v = shift >= 32 ? hi >>> (shift - 32) : shift + DIGIT_BITS > 32 ? (lo >>> shift) | (hi << (32 - shift)) : lo >>> shift;
  return v & (BUCKETS - 1);
}

/**
 * The radix sort's arrays, for n windows: 40 bytes a window (keys, ends and
 * their copies, 8 bytes each; window numbers and their copy, 4 each), in
 * one buffer kept for the next sort and only replaced by a larger one.
 * Made afresh for every render, 4 MB of them at 100,000 windows were new
 * memory each time, a thousand page faults (more than the render's own
 * objects cost); kept, a render sorts in memory the last one touched.  The
 * arrays are only used inside ranges(), which renders never nest.
 */
let scratch = new ArrayBuffer(0);

function scratchFor(n: number): ArrayBuffer {
  if (scratch.byteLength < 40 * n) scratch = new ArrayBuffer(40 * n);
  return scratch;
}

/** the digit counts of histograms(), kept like the scratch buffer */
const COUNTS = new Uint32Array(DIGITS * BUCKETS);

/** the counts of every digit value, for all digits in one pass (digit d's at d * BUCKETS) */
function histograms(keys: Float64Array): Uint32Array {
  const counts = COUNTS;
  counts.fill(0);
  const bits = new Uint32Array(keys.buffer, keys.byteOffset, 2 * keys.length);
  for (let i = 0; i < keys.length; i++) {
    for (let d = 0; d < DIGITS; d++) counts[d * BUCKETS + digit(bits, i, d)]++;
  }
  return counts;
}

/** push w (render order) onto the min-heap of `size` entries; the new size */
function heapPush(heap: number[], size: number, w: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= w) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = w;
  return size + 1;
}

/** drop the top of the min-heap of `size` entries; the new size */
function heapPop(heap: number[], size: number): number {
  const last = heap[--size];
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && heap[c + 1] < heap[c]) c++;
    if (heap[c] >= last) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = last;
  return size;
}
