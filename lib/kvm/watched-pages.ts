// Guest pages kept out of KVM's slots so that every guest access to them
// exits as MMIO (memory hooks and watchpoints, lib/machine-memory-hooks.ts).
// This is a KVM-side exclusion, not a region: the flat view, `info mtree` and
// the model's dispatch do not change; the listener only maps around the pages
// (slot-chunks.ts plans a section, carve() cuts the watched pages out of its
// chunks) and the run loop performs the trapped accesses on the same RAM.
// Watches may overlap: a page stays out while any watch covers it.
import { PAGE_SIZE } from '../memory/ram-block';
import { compareAddresses } from './kvm-slot';
import { type Chunk, rangeKey } from './slot-chunks';
import type { TrappedRange } from './trapped-ranges';

const PAGE_MASK = PAGE_SIZE - 1n;
const PAGE_SHIFT = 12n;

/** One watch: the whole pages [start, end) (page-aligned). */
export interface PageWatch {
  readonly start: bigint;
  readonly end: bigint;
}

/** The page-aligned range [start, end) covering the guest bytes [first, last] (inclusive). */
export function pagesCovering(first: bigint, last: bigint): PageWatch {
  return { start: first & ~PAGE_MASK, end: (last | PAGE_MASK) + 1n };
}

export class WatchedPages {
  private readonly watches: PageWatch[] = [];
  /** the union of the watches: disjoint, ascending, merged when adjacent */
  private union: PageWatch[] = [];

  get empty(): boolean {
    return this.watches.length === 0;
  }

  add(w: PageWatch): void {
    this.watches.push(w);
    this.rebuild();
  }

  /** Removes one watch added with add() (the same object); false if it is not there. */
  remove(w: PageWatch): boolean {
    const i = this.watches.indexOf(w);
    if (i < 0) return false;
    this.watches.splice(i, 1);
    this.rebuild();
    return true;
  }

  /** Does any watched page lie in [start, end)? */
  overlaps(start: bigint, end: bigint): boolean {
    return this.union.some((u) => u.start < end && start < u.end);
  }

  /**
   * The guest range [start, end) cut at the watched pages: the pieces
   * outside any watch (`kept`) and inside (`watched`), ascending.
   */
  cut(start: bigint, end: bigint): { kept: PageWatch[]; watched: PageWatch[] } {
    const kept: PageWatch[] = [];
    const watched: PageWatch[] = [];
    let at = start;
    for (const u of this.union) {
      if (u.end <= at || u.start >= end) continue;
      const from = u.start > at ? u.start : at;
      const to = u.end < end ? u.end : end;
      if (from > at) kept.push({ start: at, end: from });
      watched.push({ start: from, end: to });
      at = to;
    }
    if (at < end) kept.push({ start: at, end });
    return { kept, watched };
  }

  /**
   * Cuts the watched pages out of `chunks`: the pieces outside stay chunks
   * (same block, host address and flags, shifted), the pieces inside become
   * trapped ranges of reason 'watched'.  Chunks that touch no watched page
   * come back as they are, so their keys (and slots) do not change.
   */
  carve(chunks: readonly Chunk[], asId: number): { chunks: Chunk[]; watched: TrappedRange[] } {
    const out: Chunk[] = [];
    const watched: TrappedRange[] = [];
    for (const c of chunks) {
      if (!this.overlaps(c.gpa, c.gpa + c.size)) {
        out.push(c);
        continue;
      }
      const parts = this.cut(c.gpa, c.gpa + c.size);
      for (const k of parts.kept) out.push(piece(c, k.start, k.end));
      for (const w of parts.watched) watched.push({ start: w.start, size: w.end - w.start, reason: 'watched', asId, region: c.region });
    }
    return { chunks: out, watched };
  }

  private rebuild(): void {
    const sorted = this.watches.slice().sort((a, b) => compareAddresses(a.start, b.start));
    const union: PageWatch[] = [];
    for (const w of sorted) {
      const last = union[union.length - 1];
      if (last !== undefined && w.start <= last.end) {
        if (w.end > last.end) union[union.length - 1] = { start: last.start, end: w.end };
      } else union.push({ start: w.start, end: w.end });
    }
    this.union = union;
  }
}

/** The part [from, to) of chunk `c` (page-aligned bounds inside it). */
function piece(c: Chunk, from: bigint, to: bigint): Chunk {
  const off = from - c.gpa;
  return {
    ...c, key: rangeKey(from, to - from), gpa: from, size: to - from,
    ua: c.ua === 0n ? 0n : c.ua + off, blockPage: c.blockPage + Number(off >> PAGE_SHIFT),
  };
}
