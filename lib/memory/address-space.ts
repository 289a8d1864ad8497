/**
 * AddressSpace: a named root region, its current FlatView, its listeners and
 * host-side access (QEMU AddressSpace + address_space_update_topology).
 */
import { checkOptions } from '../options';
import { dispatchRw } from './dispatch';
import { MemoryRegionError } from './errors';
import type { FlatRange, FlatView } from './flat-view';
import { formatFlatRanges, formatTreeOf } from './mtree';
import { MemoryRegion } from './region';
import { updateAliasLinks } from './region-links';
import { type PatchSpan, renderVerification, type ViewPatch } from './incremental';
import { flatviewRoot, renderFlatView } from './render';
import { type MemoryRegionSection, sectionFromFlatRange } from './section';
import { toAddress, toLength } from './size';
import {
  allSpaces, beginTransaction, currentDamageEpoch, commitTransaction, globalListeners, type ListenerRegistration,
  markPendingWithoutDamage, registerListener, registerSpace, type TxAddressSpace, unregisterListener, unregisterSpace,
} from './transaction';
import type { MemoryListener, MemTxResult } from './types';
import { collectIoeventfds, diffIoeventfds, type IoEventfd } from './ioeventfd';



/**
 * The address spaces of each root region. The global list of address spaces
 * is weak; this keeps an address space alive exactly as long as something
 * can still change it: every region rendered into it reaches its root
 * (through containers, and alias targets through their live aliases).
 */
const spacesOfRoot = new WeakMap<MemoryRegion, Set<AddressSpace>>();

/** Bytes to write: a Uint8Array as is, or an array of byte values (checked: no silent wrapping). */
function toBytes(bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (Array.isArray(bytes) && bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xff)) return Uint8Array.from(bytes);
  throw new TypeError('write() expects a Uint8Array or an array of byte values (integers 0-255)');
}

export class AddressSpace implements TxAddressSpace {
  readonly name: string;
  private rootMr: MemoryRegion | null;
  private view: FlatView;
  private nextView: FlatView | null = null;
  private nextPatch: ViewPatch | null = null;
  /** this AS's listeners, ascending priority, equal priority in registration order */
  private readonly regs: ListenerRegistration[] = [];
  private destroyed = false;

  /** address_space_init: appended to the global list (creation order) and rendered. */
  constructor(root: MemoryRegion, name: string) {
    if (!(root instanceof MemoryRegion)) throw new TypeError('AddressSpace: root must be a MemoryRegion');
    if (typeof name !== 'string') throw new TypeError('AddressSpace: name must be a string');
    if (root.closed) throw new MemoryRegionError(`AddressSpace "${name}": root region "${root.name}" has been closed`);
    this.name = name;
    this.rootMr = root;
    // ASes with the same flatview root share one FlatView (QEMU's flat_views
    // hash); between commits every AS's view is current, so reuse it.
    const fvRoot = flatviewRoot(root);
    const sharing = (allSpaces() as AddressSpace[]).find((s) => s instanceof AddressSpace && s.view.root === fvRoot);
    if (sharing) {
      this.view = sharing.view;
    } else {
      // rendered now: it already shows every change recorded so far
      this.view = renderFlatView(fvRoot);
      this.view._epoch = currentDamageEpoch();
    }
    // an alias used as a root must be known to its target (damage mapping)
    root._asRootCount++;
    updateAliasLinks(root);
    let kept = spacesOfRoot.get(root);
    if (kept === undefined) spacesOfRoot.set(root, (kept = new Set()));
    kept.add(this);
    registerSpace(this);
    // QEMU renders via an update transaction; the view we just rendered is
    // identical, and with no listeners yet nothing would be reported.
  }

  get root(): MemoryRegion {
    if (this.rootMr === null) throw new MemoryRegionError(`address space "${this.name}" has been destroyed`);
    return this.rootMr;
  }

  /** the current FlatView (shared with other ASes that have the same flatview root) */
  get currentView(): FlatView {
    return this.view;
  }

  /** the FlatRanges of the current view, sorted by start */
  flatView(): readonly FlatRange[] {
    return this.view.ranges;
  }

  /** one MemoryRegionSection per FlatRange */
  sections(): MemoryRegionSection[] {
    return this.view.ranges.map((fr) => sectionFromFlatRange(fr, this));
  }

  /**
   * memory_region_find-style lookup in this AS: the first range overlapping
   * [addr, addr+size), clipped to the request; null when nothing is there.
   */
  findSection(addr: bigint | number, size: bigint | number = 1n): MemoryRegionSection | null {
    const a = toAddress(addr);
    const s = toLength(size, 'size');
    const v = this.view;
    const i = v.firstEndingAfter(a);
    if (i >= v._count) return null;
    const fr = v._at(i);
    const end = a + s;
    if (fr.start >= end) return null;
    const start = fr.start > a ? fr.start : a;
    const stop = fr.end < end ? fr.end : end;
    return Object.freeze({
      mr: fr.mr,
      addressSpace: this,
      offsetWithinRegion: fr.offsetInRegion + (start - fr.start),
      size: stop - start,
      offsetWithinAddressSpace: start,
      readonly: fr.readonly,
      nonvolatile: fr.nonvolatile,
    });
  }

  /** the address spaces sharing this AS's current FlatView, in creation order */
  sharingSpaces(): AddressSpace[] {
    return (allSpaces() as AddressSpace[]).filter((s) => s instanceof AddressSpace && s.view === this.view);
  }

  // ------------------------------------------------------------ text

  /** What `info mtree -D` prints for this AS's root (the tree, level 1). */
  formatTree(options?: { disabled?: boolean }): string {
    const opts = checkOptions(options, { disabled: true }, 'addressSpace.formatTree()');
    return formatTreeOf(this.root, opts.disabled ?? true);
  }

  /** The ranges as `info mtree -f` prints them (no indent; accelerator suffixes included). */
  formatFlatView(): string {
    return formatFlatRanges(this.view, this.sharingSpaces(), '');
  }

  /** @internal accelerator hooks of this AS, for `info mtree -f` */
  _accelHooks(): MemoryListener[] {
    return this.regs.map((r) => r.listener).filter((l) => l.accelName !== undefined && typeof l.hasMemory === 'function');
  }

  // ------------------------------------------------------------ access

  /**
   * address_space_rw: read into / write from `buf` in place.  Returns the OR
   * of the chunk results (MemTxResult).  Device callbacks may throw; the
   * exception propagates and the model is unchanged.
   */
  rw(addr: bigint, buf: Uint8Array, isWrite: boolean): MemTxResult {
    return dispatchRw(this.view, addr, buf, isWrite);
  }

  /** address_space_read: { data, result } (unassigned memory reads as 0) */
  read(addr: bigint | number, len: number): { data: Uint8Array; result: MemTxResult } {
    const a = toAddress(addr);
    if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`read length must be a non-negative integer, got ${len}`);
    const data = new Uint8Array(len);
    const result = dispatchRw(this.view, a, data, false);
    return { data, result };
  }

  /** address_space_write */
  write(addr: bigint | number, bytes: Uint8Array | readonly number[]): MemTxResult {
    const a = toAddress(addr);
    return dispatchRw(this.view, a, toBytes(bytes), true);
  }

  // ------------------------------------------------------------ listeners

  /**
   * memory_listener_register: the listener is replayed the current view
   * (begin, regionAdd + logStart per range, commit).
   */
  addListener(l: MemoryListener): void {
    if (typeof l !== 'object' || l === null) throw new TypeError('addListener: listener must be an object');
    if (l.priority !== undefined && (typeof l.priority !== 'number' || !Number.isFinite(l.priority))) {
      throw new TypeError('listener priority must be a finite number');
    }
    if (globalListeners().some((r) => r.listener === l)) {
      throw new MemoryRegionError('this listener is already registered (a listener serves one address space; create another object)');
    }
    if (this.destroyed) throw new MemoryRegionError(`address space "${this.name}" has been destroyed`);
    // The first listener that wants ioeventfds: bring the list up to date (it
    // is only kept while someone listens, like QEMU's ioeventfd_notifiers).
    if ((l.eventfdAdd || l.eventfdDel) && !this.wantsIoeventfds()) this.ioeventfds = collectIoeventfds(this.view, this);
    const reg: ListenerRegistration = { listener: l, space: this, priority: l.priority ?? 0 };
    registerListener(reg);
    let i = this.regs.length;
    while (i > 0 && this.regs[i - 1].priority > reg.priority) i--;
    this.regs.splice(i, 0, reg);
    // listener_add_address_space.  If the replay throws, the listener is
    // unregistered again (it never saw a complete view) and the error propagates.
    try {
      l.begin?.();
      for (const fr of this.view.ranges) {
        const s = sectionFromFlatRange(fr, this);
        l.regionAdd?.(s);
        if (fr.dirtyLogMask && l.logStart) l.logStart(s, 0, fr.dirtyLogMask);
      }
      if (l.eventfdAdd) for (const e of this.ioeventfds) l.eventfdAdd(e);
      l.commit?.();
    } catch (e) {
      this.regs.splice(this.regs.indexOf(reg), 1);
      unregisterListener(reg);
      throw e;
    }
  }

  /** memory_listener_unregister: inverse replay (begin, logStop + regionDel per range, commit). */
  removeListener(l: MemoryListener): void {
    const i = this.regs.findIndex((r) => r.listener === l);
    if (i < 0) throw new MemoryRegionError(`this listener is not registered on address space "${this.name}"`);
    const reg = this.regs[i];
    this.regs.splice(i, 1);
    unregisterListener(reg);
    l.begin?.();
    for (const fr of this.view.ranges) {
      const s = sectionFromFlatRange(fr, this);
      if (fr.dirtyLogMask && l.logStop) l.logStop(s, fr.dirtyLogMask, 0);
      l.regionDel?.(s);
    }
    if (l.eventfdDel) for (const e of this.ioeventfds) l.eventfdDel(e);
    l.commit?.();
  }

  get listeners(): readonly MemoryListener[] {
    return this.regs.map((r) => r.listener);
  }

  /**
   * address_space_destroy: the view becomes empty (listeners see every range
   * deleted), then the AS leaves the global list and its listeners are dropped.
   */
  destroy(): void {
    if (this.destroyed) return;
    beginTransaction();
    try {
      const root = this.rootMr;
      this.rootMr = null;
      if (root !== null) {
        root._asRootCount--;
        updateAliasLinks(root);
        spacesOfRoot.get(root)?.delete(this);
      }
      // only this AS's flatview root changes (to none)
      markPendingWithoutDamage();
    } finally {
      commitTransaction();
    }
    this.destroyed = true;
    for (const r of this.regs) unregisterListener(r);
    this.regs.length = 0;
    unregisterSpace(this);
  }

  // ------------------------------------------------------------ transaction hooks

  /** @internal */
  _nextFlatviewRoot(): MemoryRegion | null {
    return this.rootMr ? flatviewRoot(this.rootMr) : null;
  }

  /** @internal */
  _publishedView(): FlatView {
    return this.view;
  }

  /** @internal */
  _setNextView(view: FlatView, patch: ViewPatch | null): void {
    this.nextView = view;
    this.nextPatch = patch;
  }

  /**
   * @internal address_space_set_flatview + address_space_update_topology_pass
   * (del pass, then add pass).  The new view is published even if a listener throws.
   *
   * QEMU diffs the whole old and new views on every commit and calls
   * region_nop for every unchanged range.  When the new view was patched
   * from this AS's old view, the ranges outside the patch spans are the very
   * same FlatRange objects in the same order: in QEMU's two-cursor walk each
   * of them is reached by both cursors at once and yields only a nop (same
   * dirty log mask too, so no log_start/log_stop).  So unless a listener
   * implements regionNop, walking just the spans gives exactly QEMU's call
   * sequence; with a regionNop listener the whole views are walked, as QEMU
   * does, because those calls are part of the listener contract.
   */
  _installView(): void {
    const nv = this.nextView;
    const patch = this.nextPatch;
    this.nextView = null;
    this.nextPatch = null;
    if (nv === null) return;
    const old = this.view;
    this.view = nv;
    const regs = this.regs;
    if (regs.length === 0) return;
    let wantsNop = false;
    for (const r of regs) if (r.listener.regionNop != null) wantsNop = true;
    if (!wantsNop && patch !== null && patch.base === old) {
      if (renderVerification()) this.checkPatchedDiff(old, nv, patch.spans);
      for (const sp of patch.spans) this.diffPass(sp.old, sp.new, 0, sp.old.length, 0, sp.new.length, false, this.dispatch);
      for (const sp of patch.spans) this.diffPass(sp.old, sp.new, 0, sp.old.length, 0, sp.new.length, true, this.dispatch);
      return;
    }
    // the same view object again: without regionNop listeners there is nothing to report
    if (nv === old && !wantsNop) return;
    this.diffPass(old.ranges, nv.ranges, 0, old.ranges.length, 0, nv.ranges.length, false, this.dispatch);
    this.diffPass(old.ranges, nv.ranges, 0, old.ranges.length, 0, nv.ranges.length, true, this.dispatch);
  }

  private ioeventfds: IoEventfd[] = [];

  private wantsIoeventfds(): boolean {
    for (const r of this.regs) if (r.listener.eventfdAdd || r.listener.eventfdDel) return true;
    return false;
  }

  /** @internal address_space_update_ioeventfds: eventfdDel forward, eventfdAdd reverse (QEMU's order) */
  _updateIoeventfds(): void {
    if (!this.wantsIoeventfds()) return;
    const old = this.ioeventfds;
    const now = collectIoeventfds(this.view, this);
    this.ioeventfds = now;
    if (old.length === 0 && now.length === 0) return;
    const regs = this.regs;
    diffIoeventfds(old, now,
      (e) => { for (const r of regs) r.listener.eventfdDel?.(e); },
      (e) => { for (let k = regs.length - 1; k >= 0; k--) regs[k].listener.eventfdAdd?.(e); });
  }

  /** delivers the diff to this AS's listeners, forward / reverse by priority */
  private readonly dispatch: DiffSink = {
    del: (o) => {
      const regs = this.regs;
      const sec = sectionFromFlatRange(o, this);
      for (let k = regs.length - 1; k >= 0; k--) regs[k].listener.regionDel?.(sec);
    },
    same: (o, n) => {
      const regs = this.regs;
      const sec = sectionFromFlatRange(n, this);
      for (const r of regs) r.listener.regionNop?.(sec);
      const om = o.dirtyLogMask;
      const nm = n.dirtyLogMask;
      if (nm & ~om) for (const r of regs) r.listener.logStart?.(sec, om, nm);
      if (om & ~nm) for (let k = regs.length - 1; k >= 0; k--) regs[k].listener.logStop?.(sec, om, nm);
    },
    add: (n) => {
      const regs = this.regs;
      const sec = sectionFromFlatRange(n, this);
      for (const r of regs) r.listener.regionAdd?.(sec);
    },
  };

  /**
   * address_space_update_topology_pass over old[oLo, oHi) and new[nLo, nHi):
   * two cursors; old-only ranges are deleted (del pass), equal ranges are a
   * nop plus log changes, new-only ranges are added (add pass).
   */
  private diffPass(oldR: readonly FlatRange[], newR: readonly FlatRange[], oLo: number, oHi: number,
    nLo: number, nHi: number, adding: boolean, sink: DiffSink): void {
    let io = oLo;
    let inew = nLo;
    while (io < oHi || inew < nHi) {
      const o = io < oHi ? oldR[io] : undefined;
      const n = inew < nHi ? newR[inew] : undefined;
      if (o !== undefined && (n === undefined || o.start < n.start || (o.start === n.start && !o.equals(n)))) {
        if (!adding) sink.del(o);
        io++;
      } else if (o !== undefined && n !== undefined && o.equals(n)) {
        if (adding) sink.same(o, n);
        io++;
        inew++;
      } else {
        if (adding && n !== undefined) sink.add(n);
        inew++;
      }
    }
  }

  /** NODE_KVM_VERIFY_RENDER: the span walk must report what the full walk reports */
  private checkPatchedDiff(old: FlatView, nv: FlatView, spans: readonly PatchSpan[]): void {
    const record = (log: string[]): DiffSink => ({
      del: (o) => log.push(`del ${rangeKey(o)}`),
      same: (o, n) => {
        if (o.dirtyLogMask !== n.dirtyLogMask) log.push(`log ${rangeKey(n)} ${o.dirtyLogMask}->${n.dirtyLogMask}`);
      },
      add: (n) => log.push(`add ${rangeKey(n)}`),
    });
    const full: string[] = [];
    const part: string[] = [];
    for (const adding of [false, true]) {
      this.diffPass(old.ranges, nv.ranges, 0, old.ranges.length, 0, nv.ranges.length, adding, record(full));
      for (const sp of spans) this.diffPass(sp.old, sp.new, 0, sp.old.length, 0, sp.new.length, adding, record(part));
    }
    if (full.length !== part.length || full.some((l, i) => l !== part[i])) {
      throw new MemoryRegionError(`NODE_KVM_VERIFY_RENDER: the patched listener diff of "${this.name}" differs from the full diff:\n` +
        `full:    ${full.join('; ')}\npatched: ${part.join('; ')}`);
    }
  }
}

interface DiffSink {
  del(o: FlatRange): void;
  /** equal ranges (QEMU flatrange_equal): nop, then log_start / log_stop on a mask change */
  same(o: FlatRange, n: FlatRange): void;
  add(n: FlatRange): void;
}

function rangeKey(r: FlatRange): string {
  return `${r.mr.id}:${r.start.toString(16)}+${r.size.toString(16)}@${r.offsetInRegion.toString(16)}` +
    `${r.readonly ? 'r' : ''}${r.nonvolatile ? 'n' : ''}${r.romdMode ? 'd' : ''}`;
}

/** Every live address space, in creation order. */
export function addressSpaces(): AddressSpace[] {
  return (allSpaces() as AddressSpace[]).filter((s) => s instanceof AddressSpace);
}


