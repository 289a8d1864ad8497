/**
 * Address index of a container's subregions, used when only a window of the
 * memory map is re-rendered.
 *
 * QEMU's render walks every child of a container and lets the clip test
 * reject the ones outside the window; with 10,000 children that walk alone
 * costs more than the whole incremental commit is allowed to.  This index is
 * an interval treap keyed by (addr, id) and augmented with the largest end in
 * each subtree, so the children whose extent [addr, addr+size) meets a window
 * are found in O(log n + k), whatever their sizes (a 2^64 background region
 * under 10,000 small ones is found like any other).  It only answers "which
 * children can intersect"; the caller still renders them in QEMU list order.
 *
 * It is built lazily, the first time a window render needs it, and kept up to
 * date from then on by linkSubregion / unlinkSubregion / set_size.
 */
import type { MemoryRegion } from './region';
import { treapPriority } from './treap-priority';

interface INode {
  mr: MemoryRegion;
  start: bigint;
  end: bigint;
  /** largest end in this subtree */
  maxEnd: bigint;
  pri: number;
  left: INode | null;
  right: INode | null;
}


function pull(n: INode): void {
  let m = n.end;
  if (n.left !== null && n.left.maxEnd > m) m = n.left.maxEnd;
  if (n.right !== null && n.right.maxEnd > m) m = n.right.maxEnd;
  n.maxEnd = m;
}

/** (start, id) order: ids break ties between children at the same address */
function before(aStart: bigint, aId: number, b: INode): boolean {
  return aStart < b.start || (aStart === b.start && aId < b.mr.id);
}

let splitL: INode | null = null;
let splitR: INode | null = null;

/** splitL: keys < (start, id); splitR: keys >= (start, id) */
function split(t: INode | null, start: bigint, id: number): void {
  if (t === null) {
    splitL = splitR = null;
    return;
  }
  if (t.start < start || (t.start === start && t.mr.id < id)) {
    split(t.right, start, id);
    t.right = splitL;
    pull(t);
    splitL = t;
  } else {
    split(t.left, start, id);
    t.left = splitR;
    pull(t);
    splitR = t;
  }
}

function merge(a: INode | null, b: INode | null): INode | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.pri > b.pri) {
    a.right = merge(a.right, b);
    pull(a);
    return a;
  }
  b.left = merge(a, b.left);
  pull(b);
  return b;
}

function removeKey(t: INode | null, start: bigint, id: number): INode | null {
  if (t === null) return null;
  if (t.start === start && t.mr.id === id) return merge(t.left, t.right);
  if (before(start, id, t)) t.left = removeKey(t.left, start, id);
  else t.right = removeKey(t.right, start, id);
  pull(t);
  return t;
}

export class ChildIndex {
  private root: INode | null = null;
  /** the key each child was inserted with (its addr may change while unlinked) */
  private readonly keys = new Map<MemoryRegion, bigint>();

  constructor(children: readonly MemoryRegion[]) {
    for (const c of children) this.insert(c);
  }

  get size(): number {
    return this.keys.size;
  }

  insert(mr: MemoryRegion): void {
    const start = mr._addr;
    const end = start + mr._size;
    const node: INode = { mr, start, end, maxEnd: end, pri: treapPriority(), left: null, right: null };
    split(this.root, start, mr.id);
    this.root = merge(merge(splitL, node), splitR);
    this.keys.set(mr, start);
  }

  remove(mr: MemoryRegion): void {
    const start = this.keys.get(mr);
    if (start === undefined) return;
    this.keys.delete(mr);
    this.root = removeKey(this.root, start, mr.id);
  }

  /** push every child whose [addr, addr+size) meets [lo, hi) (in address order) */
  query(lo: bigint, hi: bigint, out: MemoryRegion[]): void {
    const visit = (n: INode | null): void => {
      while (n !== null) {
        if (n.maxEnd <= lo) return;
        visit(n.left);
        // everything to the right starts at or after n.start
        if (n.start >= hi) return;
        if (n.end > lo) out.push(n.mr);
        n = n.right;
      }
    };
    visit(this.root);
  }
}
