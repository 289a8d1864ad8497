/**
 * The children of a container in QEMU list order
 * (memory_region_update_container_subregions): priority descending, and
 * among equal priorities the most recently linked first.
 *
 * QEMU inserts each child into a linked list at its place; done on an array
 * that is a splice near the front for every equal-priority child, O(n) each,
 * so 100,000 children cost seconds.  Here linking and unlinking are O(1):
 * a link is appended to `added` (in blocks), an unlink clears the child's
 * entry (found through its _listSlot), so that the list holds no reference
 * to a child it no longer has (a forgotten region can be collected).  The ordered array is
 * (re)built when someone asks for it, which only whole-list walks do (a full
 * render, `info mtree`, the `subregions` getter): they are O(n) themselves,
 * so the rebuild, O(n + k log k) for k links since the last one, does not
 * change their cost.  The window renders of incremental commits find their
 * children through the ChildIndex and never need the order of the whole list.
 * Cleared entries of `added` are also dropped whenever they outnumber the
 * live children, so link / unlink cycles without a walk in between cannot
 * grow the arrays; those of `sorted` (which unlinks never grow) are dropped
 * by the next walk, or by some() once they outnumber the live children.
 */
import type { MemoryRegion } from './region';

/** QEMU list order: priority descending, the most recently linked first among equals */
export function listOrder(a: MemoryRegion, b: MemoryRegion): number {
  return b._priority - a._priority || b._linkSeq - a._linkSeq;
}

/**
 * `sorted` of a list without entries: most regions never get children, so
 * they share this one (it is never written: a rebuild replaces it first)
 */
const NONE: (MemoryRegion | null)[] = [];

/** a region's _listSlot while it is in no container's list */
export const NOT_LISTED = -0x40000000;

/** below this many cleared entries an array is not compacted on unlink */
const MIN_COMPACT = 32;

/**
 * links per block of `added`: 100,000 links in one transaction fill 98
 * blocks instead of growing one array to 100,000 entries (every growth
 * past 16,000 entries copies it into a new large object on fresh pages)
 */
const ADDED_BITS = 10;
const ADDED_BLOCK = 1 << ADDED_BITS;

/** `added` of a list without links since its last rebuild (never written) */
const NO_BLOCKS: (MemoryRegion | null)[][] = [];

export class SubregionList {
  /** list order as of the last rebuild, null where a child was unlinked since; child i has _listSlot i */
  private sorted: (MemoryRegion | null)[] = NONE;
  /** linked since the last rebuild, oldest first, null where unlinked again; child j has _listSlot -1 - j */
  private added: (MemoryRegion | null)[][] = NO_BLOCKS;
  /** links in `added` (entries, cleared ones included) */
  private addedCount = 0;
  private live = 0;
  /** null entries in sorted */
  private sortedCleared = 0;
  /** null entries in added */
  private addedCleared = 0;

  get length(): number {
    return this.live;
  }

  /** link mr (its _priority and _linkSeq set, its _container the owner) */
  add(mr: MemoryRegion): void {
    const j = this.addedCount++;
    if (this.added === NO_BLOCKS) this.added = [];
    // the last block grows, up to ADDED_BLOCK entries
    if ((j & (ADDED_BLOCK - 1)) === 0) this.added.push([]);
    mr._listSlot = -1 - j;
    this.added[j >> ADDED_BITS].push(mr);
    this.live++;
  }

  /**
   * Unlink mr, which must be in this list.  O(1) and touching no other
   * child: only links since the last rebuild grow an array, so only those
   * are compacted here (when their cleared entries outnumber the live
   * children), which bounds link / unlink cycles without a walk in between.
   * Unlinks from the ordered part just clear entries; some() and ordered()
   * drop them (a removal of 100,000 children in random order would
   * otherwise renumber the survivors at every halving, touching 100,000
   * more regions all over memory).  Unlinking the last child drops both
   * arrays at once.
   */
  remove(mr: MemoryRegion): void {
    const slot = mr._listSlot;
    mr._listSlot = NOT_LISTED;
    if (--this.live === 0) {
      this.sorted = NONE;
      this.added = NO_BLOCKS;
      this.addedCount = this.sortedCleared = this.addedCleared = 0;
      return;
    }
    if (slot >= 0) {
      this.sorted[slot] = null;
      this.sortedCleared++;
    } else {
      const j = -1 - slot;
      this.added[j >> ADDED_BITS][j & (ADDED_BLOCK - 1)] = null;
      if (++this.addedCleared > MIN_COMPACT && this.addedCleared > this.live) this.rebuild();
    }
  }

  /**
   * The children in list order.  The array is the list's own and valid until
   * the next link or unlink (an unlink clears its entry): copy it to unlink
   * children while iterating.
   */
  ordered(): readonly MemoryRegion[] {
    if (this.addedCount > 0 || this.sortedCleared > 0) this.rebuild();
    return this.sorted as MemoryRegion[];
  }

  /** calls fn on every child, in no particular order, until it returns true; whether it did */
  some(fn: (mr: MemoryRegion) => boolean): boolean {
    // more cleared entries than children: drop them first, so that a scan
    // costs O(children) (the rebuild is paid for by the unlinks that cleared them)
    if (this.sortedCleared > MIN_COMPACT && this.sortedCleared > this.live) this.rebuild();
    for (const mr of this.sorted) if (mr !== null && fn(mr)) return true;
    for (const b of this.added) for (const mr of b) if (mr !== null && fn(mr)) return true;
    return false;
  }

  /** merge the entries of `sorted` with the links since, sorted */
  private rebuild(): void {
    // both arrays made at their final size (or truncated to it): a rebuild of
    // 100,000 children copies no grown array
    const blocks = this.added;
    const fresh: MemoryRegion[] = new Array(this.addedCount);
    let f = 0;
    // newest first: for equal priorities (the common case) already in list order
    for (let b = blocks.length - 1; b >= 0; b--) {
      const a = blocks[b];
      for (let j = a.length - 1; j >= 0; j--) if (a[j] !== null) fresh[f++] = a[j]!;
    }
    fresh.length = f;
    const s = this.sorted;
    let out: MemoryRegion[];
    if (f === this.live) {
      // nothing to merge with (the children of a new container): the links
      // are the list, and one pass over them both checks their order and
      // numbers them (a second pass over 100,000 regions is 100,000 more
      // cache misses)
      out = f > 1 ? byPriority(fresh) : fresh;
      if (f === 1) fresh[0]._listSlot = 0;
    } else {
      const linked = f > 1 ? byPriority(fresh) : fresh;
      out = new Array(this.live);
      let k = 0;
      let j = 0;
      for (const mr of s) {
        if (mr === null) continue;
        while (j < f && listOrder(linked[j], mr) < 0) out[k++] = linked[j++];
        out[k++] = mr;
      }
      while (j < f) out[k++] = linked[j++];
      for (let i = 0; i < k; i++) out[i]._listSlot = i;
    }
    this.sorted = out.length > 0 ? out : NONE;
    this.added = NO_BLOCKS;
    this.addedCount = this.sortedCleared = this.addedCleared = 0;
  }
}

/**
 * `fresh` (newest first) in list order.  Newest first already orders equal
 * priorities, so a stable sort by priority alone does: counted per priority
 * and placed (O(n + p log p) for p distinct priorities, where a comparison
 * sort of 100,000 children reads two regions per comparison, 1.7 million
 * times).  Equal priorities, the common case, return `fresh` itself.
 */
function byPriority(fresh: MemoryRegion[]): MemoryRegion[] {
  // numbered as if in order while checking that they are (renumbered below if not)
  let sorted = true;
  let prev = fresh[0]._priority;
  fresh[0]._listSlot = 0;
  for (let i = 1; i < fresh.length && sorted; i++) {
    const mr = fresh[i];
    const p = mr._priority;
    sorted = prev >= p;
    prev = p;
    mr._listSlot = i;
  }
  if (sorted) return fresh;
  const counts = new Map<number, number>();
  for (const mr of fresh) counts.set(mr._priority, (counts.get(mr._priority) ?? 0) + 1);
  // where each priority's run starts, highest priority first
  let at = 0;
  for (const p of [...counts.keys()].sort((a, b) => b - a)) {
    const n = counts.get(p)!;
    counts.set(p, at);
    at += n;
  }
  const out: MemoryRegion[] = new Array(fresh.length);
  for (const mr of fresh) {
    const i = counts.get(mr._priority)!;
    out[i] = mr;
    mr._listSlot = i;
    counts.set(mr._priority, i + 1);
  }
  return out;
}

/**
 * The list of every region without children: most regions never get any.
 * Never added to (linkSubregion gives a container its own list first), so
 * it stays empty; reading it needs no rebuild.
 */
export const NO_SUBREGIONS = new SubregionList();
