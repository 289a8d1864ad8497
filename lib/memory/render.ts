/**
 * Rendering a region tree into a FlatView (QEMU render_memory_region +
 * flatview_simplify + get_flatview_root), producing exactly QEMU's ranges.
 *
 * QEMU fills the gaps of a terminating region by walking the view array and
 * inserting into it, which is O(n) per insertion and O(n^2) overall.  The
 * ranges it inserts for a region are exactly the parts of the region's clip
 * window that no window rendered earlier covers.  So the walk only records
 * each terminating region's window (fill-sweep.ts), and one sweep over all
 * of them at the end hands every address to the first window containing it,
 * in address order: the same array QEMU would have built.
 */
import { ChildIndex } from './child-index';
import { FillSweep } from './fill-sweep';
import { FlatRange, FlatView } from './flat-view';
import type { MemoryRegion } from './region';
import { TWO_64 } from './size';
import { listOrder } from './subregion-list';

// ------------------------------------------------------------- render

interface RenderState {
  /** the windows of the terminating regions, in render order */
  fills: FillSweep;
  /**
   * rendering a window of the map (incremental commit): containers with many
   * children always look the intersecting ones up in their address index
   * instead of walking the whole list
   */
  windowed: boolean;
}

/** below this many children a plain walk of the list is cheaper than the index */
let indexMinChildren = 32;
/** use the index only when it selects less than 1/indexShare of the children (0: always) */
let indexShare = 4;

/**
 * @internal tests lower the threshold (and force the index) so that small
 * trees take the indexed path; returns the previous threshold
 */
export function setIndexMinChildren(n: number, always = false): number {
  const was = indexMinChildren;
  indexMinChildren = n;
  indexShare = always ? 0 : 4;
  return was;
}

/** a region whose children are being rendered; its own fill comes after them */
interface Frame {
  mr: MemoryRegion;
  /** view address of mr's offset 0 */
  base: bigint;
  /** mr's clip window, in view addresses */
  cs: bigint;
  ce: bigint;
  ro: boolean;
  nv: boolean;
  /** the clip window is all of mr (nothing of it clipped away) */
  whole: boolean;
  /** the children to render, in list order, and the next one */
  subs: readonly MemoryRegion[];
  next: number;
}

/**
 * render_memory_region(view, mr, base, clip, readonly, nonvolatile).
 * clip is [clipStart, clipEnd); everything is exact bigint arithmetic (QEMU
 * uses Int128, so base may go negative through alias offsets).
 *
 * QEMU recurses into children and alias targets.  Here the walk keeps its own
 * stack of Frames, so that trees and alias chains of any depth (10,000
 * nested containers or aliases) render instead of overflowing the JS stack;
 * the order of the walk, and so every range, is the recursion's.
 */
function renderRegion(
  st: RenderState, mr: MemoryRegion, base: bigint,
  clipStart: bigint, clipEnd: bigint, ro: boolean, nv: boolean,
): void {
  const stack: Frame[] = [];
  enter(st, stack, mr, base, clipStart, clipEnd, ro, nv);
  while (stack.length > 0) {
    const f = stack[stack.length - 1];
    if (f.next < f.subs.length) {
      enter(st, stack, f.subs[f.next++], f.base, f.cs, f.ce, f.ro, f.nv);
    } else {
      stack.pop();
      if (f.mr.terminates) st.fills.add(f.mr, f.base, f.cs, f.ce, f.whole, f.ro, f.nv);
    }
  }
}

/**
 * The part of render_memory_region before the children: clip mr (following
 * its alias chain to the region that renders), then either fill it at once
 * (no children to render) or push a Frame for its children.
 */
function enter(
  st: RenderState, stack: Frame[], mr: MemoryRegion, base: bigint,
  clipStart: bigint, clipEnd: bigint, ro: boolean, nv: boolean,
): void {
  let cs: bigint;
  let ce: bigint;
  let whole: boolean;
  for (;;) {
    if (!mr._enabled) return;
    base = plus(base, mr._addr);
    ro = ro || mr._readonly;
    nv = nv || mr._nonvolatile;
    const rEnd = plus(base, mr._size);
    // clip = clip ∩ [base, base+size); an empty intersection renders nothing
    // (QEMU's zero-size "intersection" yields an empty clip, same result)
    cs = base > clipStart ? base : clipStart;
    ce = rEnd < clipEnd ? rEnd : clipEnd;
    if (cs >= ce) return;
    const target = mr.alias;
    if (target === null) {
      whole = cs === base && ce === rEnd;
      break;
    }
    // the alias renders its target only (its own subregions are ignored);
    // the target's addr is cancelled out so that alias start = target offset aliasOffset
    base = base - target._addr - mr._aliasOffset;
    clipStart = cs;
    clipEnd = ce;
    mr = target;
  }

  const list = mr._subregions;
  let subs: readonly MemoryRegion[] | null = null;
  if (list.length >= indexMinChildren && (st.windowed || ce - cs < mr._size)) {
    // Only children whose extent meets the clip can render anything (the
    // clip test would reject the others), so rendering just those, in list
    // order, produces the same ranges as the full walk.  Worth it for window
    // renders and, in full renders, for clips narrower than the container
    // (e.g. a small alias into a container of 10,000 BARs).
    const idx = mr._childIndex ?? (mr._childIndex = new ChildIndex(list.ordered()));
    const hits: MemoryRegion[] = [];
    idx.query(cs - base, ce - base, hits);
    if (indexShare === 0 || hits.length * indexShare < list.length) subs = hits.sort(listOrder);
  }
  if (subs === null) subs = list.length > 0 ? list.ordered() : NO_CHILDREN;
  if (subs.length > 0) {
    stack.push({ mr, base, cs, ce, ro, nv, whole, subs, next: 0 });
  } else if (mr.terminates) {
    st.fills.add(mr, base, cs, ce, whole, ro, nv);
  }
}

const NO_CHILDREN: readonly MemoryRegion[] = [];

/**
 * One live object of each shape a render makes and drops.  V8 holds a
 * shape (map) reached by adding fields only weakly; once a full collection
 * finds no object of it alive, the shape dies, and every optimized function
 * that checks for it is thrown away (deoptimized, "weak objects") and
 * compiled again on the next renders.  Between two renders nothing of these
 * shapes is alive, so without these every major GC cost the render its
 * optimized code (a gc() between 10,000-child renders made them 5-10 times
 * slower on a busy host, where compiling again takes long).  @internal
 * exported so that nothing can drop it as unused.
 */
export const KEPT_SHAPES: readonly object[] = [
  { fills: new FillSweep(), windowed: false } satisfies RenderState,
  { mr: null, base: 0n, cs: 0n, ce: 0n, ro: false, nv: false, whole: false, subs: NO_CHILDREN, next: 0 },
];

/**
 * a + b without a new bigint when either is 0n (every bigint sum is a new
 * object, 0n + b too): the children of a root at 0 and regions at offset 0
 * are most of a render
 */
function plus(a: bigint, b: bigint): bigint {
  return a === 0n ? b : b === 0n ? a : a + b;
}

/** flatview_simplify: fold each range into its predecessor when QEMU's can_merge holds */
export function simplify(ranges: FlatRange[]): FlatRange[] {
  if (ranges.length < 2) return ranges;
  // most views have nothing to merge (neighbours of different regions): keep the array
  let k0 = 1;
  while (k0 < ranges.length && !ranges[k0 - 1].canMerge(ranges[k0])) k0++;
  if (k0 === ranges.length) return ranges;
  const out: FlatRange[] = ranges.slice(0, k0 - 1);
  let acc = ranges[k0 - 1];
  for (let k = k0; k < ranges.length; k++) {
    const j = ranges[k];
    if (acc.canMerge(j)) {
      acc = new FlatRange(acc.mr, acc.offsetInRegion, acc.start, acc.size + j.size,
        acc.dirtyLogMask, acc.romdMode, acc.readonly, acc.nonvolatile);
    } else {
      out.push(acc);
      acc = j;
    }
  }
  out.push(acc);
  return out;
}

/**
 * get_flatview_root(): skip levels that cannot change the result (a full
 * alias at offset 0, a container whose only enabled child sits at 0 and fits).
 * ASes with the same flatview root share one FlatView.  Flags on skipped
 * levels (readonly, nonvolatile) are lost, as in QEMU.
 */
export function flatviewRoot(mr: MemoryRegion | null): MemoryRegion | null {
  while (mr !== null) {
    if (!mr._enabled) return null;
    if (mr.alias !== null) {
      if (mr._aliasOffset === 0n && mr._size >= mr.alias._size) {
        mr = mr.alias;
        continue;
      }
      return mr;
    }
    if (mr.terminates) return mr;
    let found: MemoryRegion | null = null;
    let count = 0;
    // order does not matter here (and some() needs no ordered list per commit)
    mr._subregions.some((c) => {
      if (!c._enabled) return false;
      found = c;
      return ++count > 1;
    });
    if (count === 0) return null;
    if (count === 1 && found!._addr === 0n && mr._size >= found!._size) {
      mr = found;
      continue;
    }
    return mr;
  }
  return null;
}

/** generate_memory_topology(): render from the flatview root, sort, simplify. */
export function renderFlatView(fvRoot: MemoryRegion | null): FlatView {
  if (fvRoot === null) return new FlatView(null, []);
  const st: RenderState = { fills: new FillSweep(), windowed: false };
  renderRegion(st, fvRoot, 0n, 0n, TWO_64, false, false);
  return new FlatView(fvRoot, simplify(st.fills.ranges()));
}

/**
 * @internal The same render with the root clip narrowed to [lo, hi): the
 * unsimplified FlatRanges, sorted.  Every address of the window gets the
 * range (region, offset, flags) the full render gives it, because the
 * winner of an address depends only on the walk order and the regions
 * containing it; ranges are merely cut at the window's edges, which
 * simplify undoes once the window is spliced into the old view.
 */
export function renderWindow(fvRoot: MemoryRegion, lo: bigint, hi: bigint): FlatRange[] {
  const st: RenderState = { fills: new FillSweep(), windowed: true };
  renderRegion(st, fvRoot, 0n, lo, hi, false, false);
  return st.fills.ranges();
}
