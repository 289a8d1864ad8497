/**
 * Incremental commits: re-render only the windows of each FlatView that the
 * transaction's changes can have touched, and splice them into the old view.
 *
 * Damage.  Every mutator records, in the coordinates of the region it
 * changed, the window whose rendering may differ (transaction.markDamage):
 * a container gets the old / new extent of a child it linked, unlinked or
 * moved; a region gets its own extent when a flag, its alias offset, its
 * enabled state or its size changed.  Nothing else feeds the render (global
 * dirty logging and unknown callers ask for a full render instead).
 *
 * Mapping.  At commit the windows are carried up to every flatview root, by
 * the final tree:
 *  - region -> its container: + the region's addr, after clipping to the
 *    region's extent [0, size) (render clips every subtree to it) and
 *    dropping the window if the region is disabled (it renders nothing now,
 *    and if it rendered something before, its setEnabled recorded a forced
 *    window at this level);
 *  - region -> every live alias of it: alias start - alias offset, i.e.
 *    window - aliasOffset in the alias's coordinates, then clipped to the
 *    alias's own extent by the same rule (the target's addr cancels out, as
 *    in render).  Aliases of aliases follow by repetition; an alias to a
 *    region that is in no container is found through the target's list of
 *    live aliases (MemoryRegion._aliasUsers), not through a container chain;
 *  - a flatview root F: the window lands in F's view at F.addr + window,
 *    clipped to [0, 2^64), and keeps going up (F may itself be rendered
 *    inside other views, e.g. through a PCI bus-master alias).
 *  A "forced" window skips the enabled / size test at its own level only.
 *  A region reachable by several paths simply receives several windows.
 *
 * Exactness.  Outside the mapped windows every address has the same winning
 * region, offset and flags as before, so the old FlatRanges there are what a
 * full render gives, cut at most at the window edges; inside, renderWindow
 * produces exactly the full render's pieces.  The old ranges touching a
 * window (including the ones that merely end or start at its edge) are
 * re-simplified together with the new pieces, so the spliced array is what
 * a full render + simplify produces (simplify's result only depends on which
 * neighbouring pieces can merge, not on where the pieces were cut).
 *
 * Full render instead (QEMU's path) when: a caller asked for it (global dirty
 * log start/stop, markUpdatePending), an AS's flatview root changed or the
 * root's own addr moved (the base of the whole render), there is no current
 * old view of that root to patch, the damage fans out through too many alias
 * paths, the damage covers the whole address space, or there are so many
 * windows that a full render is cheaper.
 */
import { MemoryRegionError } from './errors';
import { flatChunk, FlatRange, FlatView } from './flat-view';
import type { MemoryRegion } from './region';
import { renderFlatView, renderWindow, simplify } from './render';
import { TWO_64 } from './size';
import type { TxAddressSpace } from './transaction';
import { compareAddresses } from '../util/compare';
import { hex } from '../util/hex';
import { atProcessStart } from '../util/process-start';

/** damage entries per block (the first block grows up to it, the others are made at this size) */
const DAMAGE_BLOCK = 1024;
/** slots per damage entry: region, lo, len, forced */
const DAMAGE_SLOTS = 4;

/**
 * Windows [lo, lo + len) of a region's own coordinates whose rendering may
 * have changed, in the order recorded.  `forced`: the region's extent or
 * enabled state changed, so do not clip to its size, count it even if disabled.
 *
 * Kept in blocks of a fixed size rather than in growing arrays: a
 * transaction removing 100,000 regions records 65,536 entries, and growing
 * four arrays to that size copies each of them into ever larger new ones
 * (past 16,000 entries every copy is a large object of its own, fresh
 * pages each time), which made recording cost per entry rise with the
 * count.  Most transactions record a few entries: the first block grows.
 */
export class Damage {
  private readonly blocks: (MemoryRegion | bigint | boolean)[][] = [[]];
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(mr: MemoryRegion, lo: bigint, len: bigint, forced: boolean): void {
    const i = this.count++;
    const k = i % DAMAGE_BLOCK;
    if (k === 0 && i > 0) this.blocks.push(new Array(DAMAGE_BLOCK * DAMAGE_SLOTS));
    const b = this.blocks[this.blocks.length - 1];
    const s = k * DAMAGE_SLOTS;
    b[s] = mr;
    b[s + 1] = lo;
    b[s + 2] = len;
    b[s + 3] = forced;
  }

  /** entry i's slots are block(i)[slot(i)] (region) to block(i)[slot(i) + 3] (forced) */
  block(i: number): readonly (MemoryRegion | bigint | boolean)[] {
    return this.blocks[Math.floor(i / DAMAGE_BLOCK)];
  }

  slot(i: number): number {
    return (i % DAMAGE_BLOCK) * DAMAGE_SLOTS;
  }
}

export function emptyDamage(): Damage {
  return new Damage();
}

/**
 * How a new view was derived from an old one: the old ranges of each span
 * were replaced by its new ranges; everything between spans is the same
 * FlatRange objects in the same order.  Spans ascend.
 */
export interface ViewPatch {
  readonly base: FlatView;
  readonly spans: readonly PatchSpan[];
}

export interface PatchSpan {
  readonly old: readonly FlatRange[];
  readonly new: readonly FlatRange[];
}

let verify = false;
let incremental = true;
atProcessStart(() => {
  verify = process.env.NODE_KVM_VERIFY_RENDER === '1';
  incremental = process.env.NODE_KVM_FULL_RENDER !== '1';
});

/**
 * @internal NODE_KVM_VERIFY_RENDER=1: every incremental view is compared with
 * a full render, and every patched listener diff with the full diff; any
 * difference throws.  Returns the previous setting.
 */
export function setRenderVerification(on: boolean): boolean {
  const was = verify;
  verify = on;
  return was;
}

export function renderVerification(): boolean {
  return verify;
}

/** @internal false: always render everything (QEMU's way; NODE_KVM_FULL_RENDER=1).  Returns the previous setting. */
export function setIncrementalRender(on: boolean): boolean {
  const was = incremental;
  incremental = on;
  return was;
}

/** @internal counters for tests and benchmarks */
export const renderStats = { full: 0, incremental: 0, windows: 0, fallbacks: 0 };

/** alias / container hops allowed per commit before giving up on mapping the damage */
const MAP_BUDGET_BASE = 20000;

interface PatchResult extends ViewPatch {
  readonly view: FlatView;
}

interface Plan {
  view: FlatView;
  patch: ViewPatch | null;
}

/**
 * The render part of an outermost commit: one new view per distinct flatview
 * root (ASes with the same root share it, as QEMU's flat_views hash does),
 * handed to each AS with _setNextView.
 */
export function planViews(spaces: readonly TxAddressSpace[], damage: Damage, all: boolean, epoch: number): void {
  const n = spaces.length;
  const roots: (MemoryRegion | null)[] = new Array(n);
  // Bases to patch: views that show every change made before `epoch` began
  // (the damage of epoch `epoch` is what this round applies).  A view
  // published earlier and not re-installed since (an AS created from a
  // listener callback could have picked one up) is not a valid base.
  const oldByRoot = new Map<MemoryRegion | null, FlatView>();
  for (let i = 0; i < n; i++) {
    roots[i] = spaces[i]._nextFlatviewRoot();
    const v = spaces[i]._publishedView();
    if (v._epoch >= epoch && !oldByRoot.has(v.root)) oldByRoot.set(v.root, v);
  }
  let full = all || !incremental;
  const windows = new Map<MemoryRegion, bigint[]>();
  if (!full) {
    for (const r of roots) {
      if (r === null || windows.has(r)) continue;
      const base = oldByRoot.get(r);
      // the whole render is based at the root's addr: a moved root is a new render
      if (base !== undefined && base._rootAddr === r._addr) windows.set(r, []);
    }
    if (windows.size > 0 && damage.length > 0 && !mapDamage(damage, windows)) {
      full = true;
      renderStats.fallbacks++;
    }
  }
  const plans = new Map<MemoryRegion | null, Plan>();
  for (let i = 0; i < n; i++) {
    const r = roots[i];
    let plan = plans.get(r);
    if (plan === undefined) {
      // a null root is the empty view: with no regions, nothing can have changed
      plan = makePlan(r, oldByRoot.get(r), full ? undefined : r === null ? NO_WINDOWS : windows.get(r));
      // the new views show everything recorded before this round took the damage
      plan.view._epoch = epoch + 1;
      plans.set(r, plan);
    }
    spaces[i]._setNextView(plan.view, plan.patch);
  }
}

const NO_WINDOWS: bigint[] = [];

function makePlan(root: MemoryRegion | null, base: FlatView | undefined, wins: bigint[] | undefined): Plan {
  if (base !== undefined && wins !== undefined) {
    const p = patchView(base, root, wins ?? NO_WINDOWS);
    if (p !== null) {
      renderStats.incremental++;
      if (verify && p.view !== base) checkView(p.view, root);
      return { view: p.view, patch: p };
    }
    renderStats.fallbacks++;
  }
  renderStats.full++;
  return { view: renderFlatView(root), patch: null };
}

/**
 * Carry every damage window up to the flatview roots in `targets` (their
 * window lists are filled, view coordinates, unsorted).  False when the
 * walk exceeded its budget (the caller renders everything).
 */
function mapDamage(damage: Damage, targets: Map<MemoryRegion, bigint[]>): boolean {
  let budget = MAP_BUDGET_BASE + 8 * damage.length;
  // windows still to carry up: (region, lo, hi, forced) in four parallel
  // stacks, seeded with one damage entry at a time (the last first).  An
  // explicit stack rather than a recursion, because container and alias
  // chains can be deeper than the JS stack; the order in which the windows
  // reach the roots does not matter (coalesce sorts them), nor does it
  // change how many hops the walk takes in all.
  const regions: MemoryRegion[] = [];
  const los: bigint[] = [];
  const his: bigint[] = [];
  const forceds: boolean[] = [];
  for (let i = damage.length - 1; i >= 0; i--) {
    const blk = damage.block(i);
    const s = damage.slot(i);
    const lo0 = blk[s + 1] as bigint;
    regions.push(blk[s] as MemoryRegion);
    los.push(lo0);
    his.push(lo0 + (blk[s + 2] as bigint));
    forceds.push(blk[s + 3] as boolean);
    budget = carryUp(regions, los, his, forceds, targets, budget);
    if (budget < 0) return false;
  }
  return true;
}

/**
 * Carry the windows on the stacks up to the targets, emptying the stacks,
 * one hop of the budget each; the budget left (negative: exceeded, stopped).
 */
function carryUp(
  regions: MemoryRegion[], los: bigint[], his: bigint[], forceds: boolean[],
  targets: Map<MemoryRegion, bigint[]>, budget: number,
): number {
  while (regions.length > 0) {
    const r = regions.pop()!;
    let lo = los.pop()!;
    let hi = his.pop()!;
    const forced = forceds.pop()!;
    if (--budget < 0) return budget;
    if (!forced) {
      if (!r._enabled) continue;
      if (lo < 0n) lo = 0n;
      if (hi > r._size) hi = r._size;
    }
    if (lo >= hi) continue;
    const addr = r._addr;
    const w = targets.get(r);
    if (w !== undefined) {
      let a = addr + lo;
      let b = addr + hi;
      if (a < 0n) a = 0n;
      if (b > TWO_64) b = TWO_64;
      if (a < b) w.push(a, b);
    }
    const c = r._container;
    if (c !== null) {
      regions.push(c);
      los.push(lo + addr);
      his.push(hi + addr);
      forceds.push(false);
    }
    const users = r._aliasUsers;
    if (users !== null) {
      for (const a of users) {
        const off = a._aliasOffset;
        regions.push(a);
        los.push(lo - off);
        his.push(hi - off);
        forceds.push(false);
      }
    }
  }
  return budget;
}

/** windows beyond this (plus a quarter of the view's ranges) are not worth patching one by one */
const MAX_WINDOWS_BASE = 256;

/** sort and coalesce [lo, hi) pairs; touching windows become one */
function coalesce(wins: bigint[]): bigint[] {
  const k = wins.length >> 1;
  if (k <= 1) return wins;
  const order: number[] = [];
  for (let i = 0; i < k; i++) order.push(i);
  order.sort((x, y) => compareAddresses(wins[2 * x], wins[2 * y]));
  const out: bigint[] = [];
  for (const i of order) {
    const lo = wins[2 * i];
    const hi = wins[2 * i + 1];
    const m = out.length;
    if (m > 0 && lo <= out[m - 1]) {
      if (hi > out[m - 1]) out[m - 1] = hi;
    } else {
      out.push(lo, hi);
    }
  }
  return out;
}

/** range r restricted to [s, e) (r itself when nothing is cut off) */
function cut(r: FlatRange, s: bigint, e: bigint): FlatRange {
  if (s === r.start && e === r.start + r.size) return r;
  return new FlatRange(r.mr, r.offsetInRegion + (s - r.start), s, e - s,
    r.dirtyLogMask, r.romdMode, r.readonly, r.nonvolatile);
}

/**
 * Collects the ranges of a patched view into chunks: untouched chunks of
 * the old view are taken over by reference, individual ranges are packed
 * into new chunks of at most flatChunk.size.  A small run left over before a
 * shared chunk is merged into a copy of that chunk, so that repeated
 * patches do not fragment the view.
 */
class ChunkBuilder {
  readonly chunks: FlatRange[][] = [];
  private pending: FlatRange[] = [];

  push(r: FlatRange): void {
    this.pending.push(r);
    if (this.pending.length >= flatChunk.size) this.flush();
  }

  pushChunk(ch: readonly FlatRange[]): void {
    const p = this.pending;
    const size = flatChunk.size;
    if (p.length === 0) {
      this.chunks.push(ch as FlatRange[]);
    } else if (p.length < size >> 2 && p.length + ch.length <= 2 * size) {
      for (let i = 0; i < ch.length; i++) p.push(ch[i]);
      this.flush();
    } else {
      this.flush();
      this.chunks.push(ch as FlatRange[]);
    }
  }

  /** old ranges [from, to) of v */
  copy(v: FlatView, from: number, to: number): void {
    if (from >= to) return;
    const chunks = v._chunks;
    const bases = v._chunkBases;
    let c = v._chunkOfIndex(from);
    let i = from;
    while (i < to) {
      const ch = chunks[c];
      const b = bases[c];
      const end = b + ch.length;
      if (i === b && end <= to) {
        this.pushChunk(ch);
      } else {
        const stop = end < to ? end : to;
        for (let k = i - b; k < stop - b; k++) this.push(ch[k]);
      }
      i = end;
      c++;
    }
  }

  finish(): FlatRange[][] {
    this.flush();
    return this.chunks;
  }

  private flush(): void {
    if (this.pending.length) {
      this.chunks.push(this.pending);
      this.pending = [];
    }
  }
}

/**
 * Re-render `wins` (view coordinates) of `base` and splice them in.  Null
 * when patching is not worth it.  With no windows the old view itself is
 * returned (nothing it shows can have changed).
 */
export function patchView(base: FlatView, root: MemoryRegion | null, rawWins: bigint[]): PatchResult | null {
  if (rawWins.length === 0) return { base, spans: [], view: base };
  if (root === null) return null;
  const ws = coalesce(rawWins);
  // the whole map (e.g. the root itself toggled): a plain full render is cheaper
  if (ws.length === 2 && ws[0] === 0n && ws[1] === TWO_64) return null;
  if ((ws.length >> 1) > MAX_WINDOWS_BASE + (base._count >> 2)) return null;
  renderStats.windows += ws.length >> 1;
  const out = new ChunkBuilder();
  const spans: PatchSpan[] = [];
  let copied = 0;
  let w = 0;
  while (w < ws.length) {
    // old ranges that meet or touch [lo, hi]: they may merge with the new pieces
    const a = base.firstEndingAfter(ws[w] - 1n);
    let b = base.firstStartingAfter(ws[w + 1]);
    let wEnd = w + 2;
    // windows whose old ranges overlap (one old range spanning both) form one group
    while (wEnd < ws.length && base.firstEndingAfter(ws[wEnd] - 1n) <= b) {
      b = base.firstStartingAfter(ws[wEnd + 1]);
      wEnd += 2;
    }
    out.copy(base, copied, a);
    const olds = base._slice(a, b);
    const seg = spliceGroup(olds, ws, w, wEnd, root);
    for (let i = 0; i < seg.length; i++) out.push(seg[i]);
    spans.push({ old: olds, new: seg });
    copied = b;
    w = wEnd;
  }
  out.copy(base, copied, base._count);
  return { base, spans, view: FlatView._fromChunks(root, out.finish()) };
}

/**
 * The new ranges replacing the old ranges `olds` (all old ranges meeting or
 * touching the group's windows): their parts outside the windows, the fresh
 * render inside them, simplified together.
 */
function spliceGroup(olds: readonly FlatRange[], ws: bigint[], w0: number, w1: number, root: MemoryRegion): FlatRange[] {
  const pieces: FlatRange[] = [];
  const b = olds.length;
  let p = 0;
  let prevHi: bigint | null = null;
  for (let w = w0; w < w1; w += 2) {
    const lo = ws[w];
    const hi = ws[w + 1];
    // old parts between the previous window and this one
    while (p < b) {
      const r = olds[p];
      if (r.start >= lo) break;
      const s = prevHi !== null && prevHi > r.start ? prevHi : r.start;
      const rEnd = r.start + r.size;
      const e = rEnd < lo ? rEnd : lo;
      if (s < e) pieces.push(cut(r, s, e));
      if (rEnd > lo) break; // continues into (maybe past) this window
      p++;
    }
    const fresh = renderWindow(root, lo, hi);
    for (let i = 0; i < fresh.length; i++) pieces.push(fresh[i]);
    while (p < b && olds[p].start + olds[p].size <= hi) p++;
    prevHi = hi;
  }
  for (; p < b; p++) {
    const r = olds[p];
    const rEnd = r.start + r.size;
    const s = prevHi !== null && prevHi > r.start ? prevHi : r.start;
    if (s < rEnd) pieces.push(cut(r, s, rEnd));
  }
  return simplify(pieces);
}

// ------------------------------------------------------------ verification

function describe(fr: FlatRange | undefined): string {
  if (fr === undefined) return '(none)';
  return `${fr.mr.name} [${hex(fr.start)}, +${hex(fr.size)}) @${hex(fr.offsetInRegion)}` +
    ` mask=${fr.dirtyLogMask} romd=${fr.romdMode} ro=${fr.readonly} nv=${fr.nonvolatile}`;
}

/** FlatRange equality including the dirty log mask */
export function sameRange(a: FlatRange, b: FlatRange): boolean {
  return a.equals(b) && a.dirtyLogMask === b.dirtyLogMask;
}

function checkView(v: FlatView, root: MemoryRegion | null): void {
  const want = renderFlatView(root).ranges;
  const got = v.ranges;
  const n = Math.max(want.length, got.length);
  for (let i = 0; i < n; i++) {
    if (i >= want.length || i >= got.length || !sameRange(want[i], got[i])) {
      throw new MemoryRegionError(`NODE_KVM_VERIFY_RENDER: incremental render differs from a full render of "${root?.name}" ` +
        `at range #${i}: got ${describe(got[i])}, want ${describe(want[i])} (${got.length} vs ${want.length} ranges)`);
    }
  }
  // the chunk bookkeeping must describe the same array
  let count = 0;
  v._chunks.forEach((ch, c) => {
    if (ch.length === 0 || v._chunkBases[c] !== count || v._chunkStarts[c] !== ch[0].start) {
      throw new MemoryRegionError(`NODE_KVM_VERIFY_RENDER: chunk #${c} of the patched view is inconsistent`);
    }
    count += ch.length;
  });
  if (count !== v._count) throw new MemoryRegionError('NODE_KVM_VERIFY_RENDER: range count of the patched view is stale');
}
