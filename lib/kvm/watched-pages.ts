// Guest pages whose guest accesses must exit as MMIO (memory hooks and
// watchpoints, lib/machine-memory-hooks.ts).  This is a KVM-side exclusion,
// not a region: the flat view, `info mtree` and the model's dispatch do not
// change; the listener only maps around the pages (slot-chunks.ts plans a
// section, carve() cuts the watched pages out of its chunks) and the run loop
// performs the exiting accesses on the same RAM.
//  - a page watched for every access gets no slot (reads and writes exit);
//  - a page watched only for writes gets a read-only slot where KVM has
//    KVM_CAP_READONLY_MEM: its reads run at full speed, its writes exit
//    (without the capability it gets no slot, like the first kind).
// Watches may overlap: a page stays out while any watch covers it, and the
// strongest kind wins.
import { PAGE_SIZE } from '../memory/ram-block';
import { compareAddresses, KVM_MEM_READONLY } from './kvm-slot';
import { type Chunk, rangeKey } from './slot-chunks';
import type { TrappedRange } from './trapped-ranges';

const PAGE_MASK = PAGE_SIZE - 1n;
const PAGE_SHIFT = 12n;

/** A page-aligned guest range [start, end). */
export interface PageRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** One watch: its whole pages, and whether only writes need to exit. */
export interface PageWatch extends PageRange {
  readonly writesOnly: boolean;
}

/** The pages covering the guest bytes [first, last] (inclusive). */
export function pagesCovering(first: bigint, last: bigint, writesOnly = false): PageWatch {
  return { start: first & ~PAGE_MASK, end: (last | PAGE_MASK) + 1n, writesOnly };
}

/** How a piece of a chunk is mapped. */
type PieceKind = 'slot' | 'readonly' | 'trapped';

export class WatchedPages {
  private readonly watches: PageWatch[] = [];
  /** disjoint, ascending: pages every access of which must exit */
  private all: PageRange[] = [];
  /** disjoint, ascending: pages whose writes must exit (overlaps `all` possibly) */
  private writes: PageRange[] = [];

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
    return touches(this.all, start, end) || touches(this.writes, start, end);
  }

  /**
   * Cuts the watched pages out of `chunks`: pieces outside stay chunks (same
   * block, host address and flags, shifted); write-watched pieces become
   * read-only chunks when `readonlyMem` (else trapped); pieces watched for
   * every access become trapped ranges of reason 'watched'.  Chunks that
   * touch no watched page come back as they are, so their keys (and slots)
   * do not change; a read-only chunk (ROM) needs no cut for write watches.
   */
  carve(chunks: readonly Chunk[], asId: number, readonlyMem: boolean): { chunks: Chunk[]; watched: TrappedRange[] } {
    const out: Chunk[] = [];
    const watched: TrappedRange[] = [];
    for (const c of chunks) {
      const end = c.gpa + c.size;
      const ro = (c.flags & KVM_MEM_READONLY) !== 0;
      if (!touches(this.all, c.gpa, end) && (ro || !touches(this.writes, c.gpa, end))) {
        out.push(c);
        continue;
      }
      for (const p of this.pieces(c.gpa, end, ro)) {
        const kind = p.kind === 'readonly' && !readonlyMem ? 'trapped' : p.kind;
        if (kind === 'trapped') watched.push({ start: p.start, size: p.end - p.start, reason: 'watched', asId, region: c.region });
        else out.push(piece(c, p.start, p.end, kind === 'readonly' ? c.flags | KVM_MEM_READONLY : c.flags));
      }
    }
    return { chunks: out, watched };
  }

  /** [start, end) in pieces of one kind each, ascending (the unions make them maximal). */
  private pieces(start: bigint, end: bigint, readonly: boolean): (PageRange & { kind: PieceKind })[] {
    const out: (PageRange & { kind: PieceKind })[] = [];
    const kept = cut(this.all, start, end, (from, to) => out.push({ start: from, end: to, kind: 'trapped' }));
    for (const k of kept) {
      if (readonly) out.push({ ...k, kind: 'slot' });
      else for (const s of cut(this.writes, k.start, k.end, (from, to) => out.push({ start: from, end: to, kind: 'readonly' }))) out.push({ ...s, kind: 'slot' });
    }
    return out.sort((a, b) => compareAddresses(a.start, b.start));
  }

  private rebuild(): void {
    this.all = union(this.watches.filter((w) => !w.writesOnly));
    this.writes = union(this.watches.filter((w) => w.writesOnly));
  }
}

function touches(ranges: readonly PageRange[], start: bigint, end: bigint): boolean {
  return ranges.some((u) => u.start < end && start < u.end);
}

/** Disjoint ascending ranges covering `ranges`, adjacent ones merged. */
function union(ranges: readonly PageRange[]): PageRange[] {
  const sorted = ranges.slice().sort((a, b) => compareAddresses(a.start, b.start));
  const out: PageRange[] = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && w.start <= last.end) {
      if (w.end > last.end) out[out.length - 1] = { start: last.start, end: w.end };
    } else out.push({ start: w.start, end: w.end });
  }
  return out;
}

/** [start, end) minus `ranges`: returns what is left; `onCut` receives each part inside them. */
function cut(ranges: readonly PageRange[], start: bigint, end: bigint, onCut: (from: bigint, to: bigint) => void): PageRange[] {
  const kept: PageRange[] = [];
  let at = start;
  for (const u of ranges) {
    if (u.end <= at || u.start >= end) continue;
    const from = u.start > at ? u.start : at;
    const to = u.end < end ? u.end : end;
    if (from > at) kept.push({ start: at, end: from });
    onCut(from, to);
    at = to;
  }
  if (at < end) kept.push({ start: at, end });
  return kept;
}

/** The part [from, to) of chunk `c` (page-aligned bounds inside it), with `flags`. */
function piece(c: Chunk, from: bigint, to: bigint, flags: number): Chunk {
  const off = from - c.gpa;
  return {
    ...c, key: rangeKey(from, to - from), gpa: from, size: to - from, flags,
    ua: c.ua === 0n ? 0n : c.ua + off, blockPage: c.blockPage + Number(off >> PAGE_SHIFT),
  };
}
