/**
 * The children of a container in QEMU list order
 * (memory_region_update_container_subregions): priority descending, and
 * among equal priorities the most recently linked first.
 *
 * QEMU inserts each child into a linked list at its place; done on an array
 * that is a splice near the front for every equal-priority child, O(n) each,
 * so 100,000 children cost seconds.  Here linking and unlinking are O(1):
 * a link is appended to `added`, an unlink only marks the child's entry
 * stale (it stops matching the child's slot).  The ordered array is
 * (re)built when someone asks for it, which only whole-list walks do (a full
 * render, `info mtree`, the `subregions` getter): they are O(n) themselves,
 * so the rebuild, O(n + k log k) for k links since the last one, does not
 * change their cost.  The window renders of incremental commits find their
 * children through the ChildIndex and never need the order of the whole list.
 * Stale entries are also dropped whenever they outnumber the live ones, so
 * link / unlink cycles without a walk in between cannot grow the arrays.
 *
 * An array handed out by ordered() is never modified afterwards: a caller may
 * unlink children while it iterates one (MemoryRegion.close does).
 */
import type { MemoryRegion } from './region';

/** QEMU list order: priority descending, the most recently linked first among equals */
export function listOrder(a: MemoryRegion, b: MemoryRegion): number {
  return b._priority - a._priority || b._linkSeq - a._linkSeq;
}

/** below this many stale entries the arrays are not compacted on unlink */
const MIN_COMPACT = 32;

export class SubregionList {
  /** the container: a child belongs here while its _container is this */
  private readonly owner: MemoryRegion;
  /** list order as of the last rebuild; child i is live while its _listSlot is i */
  private sorted: MemoryRegion[] = [];
  /** linked since the last rebuild, oldest first; child j is live while its _listSlot is -1 - j */
  private added: MemoryRegion[] = [];
  private live = 0;
  private stale = 0;

  constructor(owner: MemoryRegion) {
    this.owner = owner;
  }

  get length(): number {
    return this.live;
  }

  /** link mr (its _priority and _linkSeq set, its _container the owner) */
  add(mr: MemoryRegion): void {
    mr._listSlot = -1 - this.added.length;
    this.added.push(mr);
    this.live++;
  }

  /** unlink mr, which must be in this list */
  remove(mr: MemoryRegion): void {
    // NaN matches no slot: the entry is stale from now on, whatever mr does next
    mr._listSlot = NaN;
    this.live--;
    this.stale++;
    if (this.stale > MIN_COMPACT && this.stale > this.live) this.rebuild();
  }

  /** the children in list order (a fresh array after every change; never modified) */
  ordered(): readonly MemoryRegion[] {
    if (this.added.length > 0 || this.stale > 0) this.rebuild();
    return this.sorted;
  }

  /** calls fn on every child, in no particular order, until it returns true; whether it did */
  some(fn: (mr: MemoryRegion) => boolean): boolean {
    const s = this.sorted;
    for (let i = 0; i < s.length; i++) if (this.isLive(s[i], i) && fn(s[i])) return true;
    const a = this.added;
    for (let j = 0; j < a.length; j++) if (this.isLive(a[j], -1 - j) && fn(a[j])) return true;
    return false;
  }

  private isLive(mr: MemoryRegion, slot: number): boolean {
    return mr._listSlot === slot && mr._container === this.owner;
  }

  /** merge the live entries of `sorted` with the live links since, sorted */
  private rebuild(): void {
    const fresh: MemoryRegion[] = [];
    const a = this.added;
    // newest first: for equal priorities (the common case) already in list order
    for (let j = a.length - 1; j >= 0; j--) if (this.isLive(a[j], -1 - j)) fresh.push(a[j]);
    if (fresh.length > 1) fresh.sort(listOrder);
    const s = this.sorted;
    const out: MemoryRegion[] = [];
    let i = 0;
    let j = 0;
    for (;;) {
      while (i < s.length && !this.isLive(s[i], i)) i++;
      if (i === s.length) break;
      while (j < fresh.length && listOrder(fresh[j], s[i]) < 0) out.push(fresh[j++]);
      out.push(s[i++]);
    }
    while (j < fresh.length) out.push(fresh[j++]);
    for (let k = 0; k < out.length; k++) out[k]._listSlot = k;
    this.sorted = out;
    this.added = [];
    this.stale = 0;
  }
}
