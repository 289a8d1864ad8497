// The KVM memory listener: keeps the kernel's memory slot table equal to the
// RAM-backed sections of an AddressSpace's flat view (QEMU accel/kvm/kvm-all.c
// kvm_memory_listener, with the atomic commit of QEMU >= 8.0).
//
// Every transaction the memory core commits arrives as begin, regionDel /
// regionAdd / logStart / logStop per section, commit.  The section callbacks
// only queue work (each section planned into slot-sized chunks by
// slot-chunks.ts); commit() hands the queue to slot-reconcile.ts, which
// issues the minimum ioctls on this address space's slot table
// (slot-table.ts) while running vCPUs are held outside KVM_RUN, so a guest
// never sees a page of a split/merged/moved slot missing.
//
// A RAM-backed range KVM cannot take is not given to KVM: it is *trapped*
// (the guest's accesses exit as MMIO and go through the model, which reads and
// writes the same RAM bytes), listed by trapped() and, once per range, reported
// with a NODE_KVM_UNSLOTTABLE warning (trapped-ranges.ts).  So attaching never
// fails half-way and the slot table is always the slottable part of the flat
// view.  QEMU aborts on such ranges (incongruent host/guest page offset) instead.
import type { NativeVm } from '../binding';
import { KvmError } from '../errors';
import type { AddressSpace } from '../memory/address-space';
import { PAGE_SIZE, type RamBlock } from '../memory/ram-block';
import type { MemoryRegionSection } from '../memory/section';
import type { MemoryListener } from '../memory/types';
import { errno } from '../util/errno';
import { hex } from '../util/hex';
import type { DirtyTracker } from './dirty-log';
import { KVM_MAX_SLOT_SIZE, type KvmSlot } from './kvm-slot';
import { type Chunk, type ChunkPolicy, mayHaveSlot, planSection, rangeKey, type SectionPlan, wantsSlot } from './slot-chunks';
import { SlotReconciler } from './slot-reconcile';
import { KvmSlotTable } from './slot-table';
import { traceSink } from './slot-trace';
import { byStart, type TrappedRange, UnslottableWarnings } from './trapped-ranges';
import { type PageWatch, WatchedPages } from './watched-pages';

// The listener's public vocabulary, exported from here with the listener (lib/index.ts).
export { KVM_MAX_SLOT_SIZE, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, type KvmSlot } from './kvm-slot';
export { type TrappedRange, type TrappedReason, UNSLOTTABLE_WARNING } from './trapped-ranges';
export { guestMmioAccess } from './guest-mmio';

export interface KvmMemoryListenerOptions {
  /** KVM address space id (0 = normal memory; 1 = SMM where supported). */
  asId?: number;
  /**
   * Trace every KVM_SET_USER_MEMORY_REGION in QEMU's format: `true` prints
   * to stderr, a function receives each line.  The environment variable
   * NODE_KVM_TRACE (comma-separated QEMU trace patterns, e.g.
   * `kvm_set_user_memory` or `kvm_*`) turns stderr tracing on as well.
   */
  trace?: boolean | ((line: string) => void);
  /** Use at most this many slots (default and ceiling: KVM_CAP_NR_MEMSLOTS). */
  maxSlots?: number;
  /** Split sections into chunks of at most this many bytes (a page multiple; default KVM's per-slot limit). */
  maxSlotSize?: bigint;
  /**
   * Pretend KVM_CAP_READONLY_MEM is absent (QEMU's fallback: ROM mapped
   * writable, ROM devices never mapped).  Default: the capability decides.
   */
  readonlyMem?: boolean;
  /**
   * Hold running vCPUs outside KVM_RUN while slots are deleted (default
   * true).  false reproduces QEMU < 8.0, where a guest can hit a page whose
   * slot is being re-created; only useful to demonstrate that bug.
   */
  atomic?: boolean;
}

/** What the listener needs from its VM (the VM's MemorySlots). */
export interface ListenerHost {
  readonly native: NativeVm;
  /** Kick every vCPU running on a native thread out of KVM_RUN and keep it out; returns the release. */
  holdVcpus(): () => void;
  readonly dirty: DirtyTracker;
  checkExtension(cap: string): number;
  /** The guest's physical-address width in bits (KVM_GET_SUPPORTED_CPUID 0x80000008 EAX[7:0]). */
  guestPhysBits(): number;
  /** Bytes in the live slots of every listener of the VM (the host-memory budget is per VM). */
  slotBytes(): bigint;
}

export class KvmMemoryListener implements MemoryListener {
  readonly priority = 10;
  readonly accelName = 'KVM';
  readonly asId: number;
  readonly addressSpace: AddressSpace;

  private readonly host: ListenerHost;
  private readonly policy: ChunkPolicy;
  private readonly atomic: boolean;
  private readonly table: KvmSlotTable;
  private readonly reconciler: SlotReconciler;
  private readonly warnings: UnslottableWarnings;
  /** pages kept out of the slots so their guest accesses exit (watchPages) */
  private readonly watched = new WatchedPages();
  /** RAM-backed ranges of the flat view that can never be a slot, keyed by guest range */
  private readonly trappedByKey = new Map<string, TrappedRange>();
  private dels: string[] = [];
  /** keyed by guest range: the last report of a range wins (a replay reports regionAdd and logStart) */
  private adds = new Map<string, Chunk>();
  private trapDels: string[] = [];
  private trapAdds = new Map<string, TrappedRange>();
  private detached = false;
  /** true during the replay of addAddressSpace(): errors are kept for it instead of thrown */
  private attaching = true;
  private attachError: Error | null = null;

  /** @internal use vm.addAddressSpace() */
  constructor(host: ListenerHost, as: AddressSpace, opts: KvmMemoryListenerOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('addAddressSpace options must be an object');
    const asId = opts.asId ?? 0;
    if (!Number.isInteger(asId) || asId < 0 || asId > 0xffff) throw new RangeError(`asId must be an integer in [0, 65535], got ${String(asId)}`);
    const nrAs = Math.max(host.checkExtension('MULTI_ADDRESS_SPACE'), 1);
    if (asId >= nrAs) {
      throw new KvmError('KVM_SET_USER_MEMORY_REGION', errno('EINVAL'),
        `address space id ${asId}: this KVM supports ${nrAs} address space${nrAs === 1 ? '' : 's'} (KVM_CAP_MULTI_ADDRESS_SPACE)`);
    }
    const cap = host.checkExtension('NR_MEMSLOTS') || 32;
    let nrSlots = cap;
    if (opts.maxSlots !== undefined) {
      if (!Number.isInteger(opts.maxSlots) || opts.maxSlots < 1) throw new RangeError(`maxSlots must be a positive integer, got ${String(opts.maxSlots)}`);
      nrSlots = Math.min(cap, opts.maxSlots);
    }
    let maxSlotSize = KVM_MAX_SLOT_SIZE;
    if (opts.maxSlotSize !== undefined) {
      if (typeof opts.maxSlotSize !== 'bigint') throw new TypeError('maxSlotSize must be a bigint');
      if (opts.maxSlotSize <= 0n || opts.maxSlotSize % PAGE_SIZE !== 0n) throw new RangeError(`maxSlotSize must be a positive multiple of 4 KiB, got ${hex(opts.maxSlotSize)}`);
      maxSlotSize = opts.maxSlotSize < KVM_MAX_SLOT_SIZE ? opts.maxSlotSize : KVM_MAX_SLOT_SIZE;
    }
    const ro = host.checkExtension('READONLY_MEM') > 0;
    if (opts.readonlyMem !== undefined && typeof opts.readonlyMem !== 'boolean') throw new TypeError('readonlyMem must be a boolean');
    if (opts.trace !== undefined && typeof opts.trace !== 'boolean' && typeof opts.trace !== 'function') {
      throw new TypeError('trace must be a boolean or a function(line)');
    }
    if (opts.atomic !== undefined && typeof opts.atomic !== 'boolean') throw new TypeError('atomic must be a boolean');
    this.host = host;
    this.asId = asId;
    this.addressSpace = as;
    this.atomic = opts.atomic !== false;
    const physBits = host.guestPhysBits();
    this.policy = { asId, maxSlotSize, readonlyMem: ro && opts.readonlyMem !== false, physLimit: 1n << BigInt(physBits) };
    this.table = new KvmSlotTable(host.native, host.dirty, asId, nrSlots, traceSink(opts.trace));
    this.reconciler = new SlotReconciler(this.table);
    this.warnings = new UnslottableWarnings(physBits);
  }

  // ------------------------------------------------------------ queries

  /** The live slots, ascending guest address. */
  slots(): KvmSlot[] {
    return this.table.slots();
  }

  /** Sections the flat view wants mapped but that have no slot yet (table full, memory limit). */
  get unplacedCount(): number {
    return this.reconciler.unplacedCount;
  }

  /**
   * The RAM-backed ranges of the flat view that have no slot, ascending: the
   * guest's accesses to them exit as MMIO and are served by the model.
   * Together with slots() they cover every byte the listener maps (RAM, ROM,
   * a ROM device in romd mode when read-only slots exist).
   */
  trapped(): TrappedRange[] {
    const out = [...this.trappedByKey.values()].map((t) => ({ ...t }));
    out.push(...this.reconciler.unplacedRanges());
    return out.sort(byStart);
  }

  /** Bytes in this listener's live slots. */
  get slotBytes(): bigint {
    return this.table.bytes;
  }

  /** KVM_SET_USER_MEMORY_REGION calls so far (for benchmarks and tests). */
  get ioctlCount(): number {
    return this.table.ioctlCount;
  }

  /**
   * QEMU's kvm_accel has_memory: a slot starts exactly at `start` and is
   * exactly min(maxSlotSize, size) long (only the first chunk is checked).
   */
  hasMemory(start: bigint, size: bigint): boolean {
    const max = this.policy.maxSlotSize;
    const len = size < max ? size : max;
    if (this.table.has(rangeKey(start, len))) return true;
    // A chunk with watched pages cut out of it still counts (the exclusion is
    // not the map's): its pieces must cover exactly [start, start+len).
    if (!this.watched.overlaps(start, start + len)) return false;
    const s = this.addressSpace.findSection(start, len);
    if (s === null || s.offsetWithinAddressSpace !== start || !wantsSlot(s, this.policy.readonlyMem)) return false;
    const p = this.plan(s, true);
    const pieces = [...p.chunks.map((c) => ({ start: c.gpa, size: c.size, ok: this.table.has(c.key) })),
      ...p.trapped.map((t) => ({ start: t.start, size: t.size, ok: t.reason === 'watched' }))].sort(byStart);
    let at = start;
    for (const x of pieces) {
      if (x.start !== at || !x.ok) return false;
      at += x.size;
    }
    return at === start + len;
  }

  /**
   * Keeps the guest pages of `w` out of the slots (the listener maps around
   * them), so that every guest access to them exits as MMIO and is served by
   * the model, until the returned release is called.  Only the slots that
   * change are touched, with running vCPUs held as in commit().  When the
   * slots cannot be re-made (a full slot table) the watch is undone and the
   * error thrown.
   */
  watchPages(w: PageWatch): () => void {
    try {
      this.rewatch(w, () => this.watched.add(w));
    } catch (err) {
      // all or nothing: the pages go back to their slots (fewer slots than the carve needed)
      try { this.rewatch(w, () => this.watched.remove(w)); } catch { /* the first error says why */ }
      throw err;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.rewatch(w, () => this.watched.remove(w));
    };
  }

  /** Re-plans the sections overlapping `w` around `change` as one commit (unchanged chunks keep their slots). */
  private rewatch(w: PageWatch, change: () => void): void {
    if (this.detached) {
      change();
      return;
    }
    const touched = this.addressSpace.sections().filter((s) =>
      s.offsetWithinAddressSpace < w.end && w.start < s.offsetWithinAddressSpace + s.size);
    this.begin();
    for (const s of touched) this.regionDel(s);
    change();
    for (const s of touched) this.regionAdd(s);
    this.commit();
  }

  // ------------------------------------------------------------ MemoryListener

  begin(): void {
    this.dels = [];
    this.adds = new Map();
    this.trapDels = [];
    this.trapAdds = new Map();
  }

  regionAdd(s: MemoryRegionSection): void {
    if (this.detached || !wantsSlot(s, this.policy.readonlyMem)) return;
    const p = this.plan(s, true);
    for (const c of p.chunks) this.adds.set(c.key, c);
    for (const t of p.trapped) this.trapAdds.set(rangeKey(t.start, t.size), t);
  }

  regionDel(s: MemoryRegionSection): void {
    // Keys that have no slot are ignored at commit.
    if (this.detached || !mayHaveSlot(s)) return;
    const p = this.plan(s, false);
    for (const c of p.chunks) this.dels.push(c.key);
    for (const t of p.trapped) this.trapDels.push(rangeKey(t.start, t.size));
  }

  /** Dirty logging switched on or off: re-add with new flags; commit turns it into a flags-only ioctl. */
  logStart(s: MemoryRegionSection, oldMask: number): void {
    if (oldMask === 0) this.relog(s);
  }

  logStop(s: MemoryRegionSection, _oldMask: number, newMask: number): void {
    if (newMask === 0) this.relog(s);
  }

  private relog(s: MemoryRegionSection): void {
    if (this.detached || !wantsSlot(s, this.policy.readonlyMem)) return;
    for (const c of this.plan(s, true).chunks) {
      this.dels.push(c.key);
      this.adds.set(c.key, c);
    }
  }

  /** planSection, with the watched pages cut out of the chunks (and trapped). */
  private plan(s: MemoryRegionSection, withHost: boolean): SectionPlan {
    const p = planSection(s, this.policy, withHost);
    if (this.watched.empty) return p;
    const carved = this.watched.carve(p.chunks, this.asId, this.policy.readonlyMem);
    return { chunks: carved.chunks, trapped: [...p.trapped, ...carved.watched].sort(byStart) };
  }

  /**
   * Applies the queued changes.  Errors (a full table, the memory limit, a
   * failed ioctl) are thrown after everything else was applied, so the table
   * is still what the kernel has; during addAddressSpace()'s replay they are
   * kept for it instead (it then detaches the listener cleanly).
   */
  commit(): void {
    const { dels, adds, trapDels, trapAdds } = this;
    this.begin();
    if (this.detached) return;
    for (const k of trapDels) this.trappedByKey.delete(k);
    for (const [k, t] of trapAdds) {
      this.trappedByKey.set(k, t);
      this.warnings.warnOnce(t);
    }
    const errors: Error[] = [];
    const host = this.host;
    this.reconciler.apply(dels, adds, {
      vmSlotBytes: () => host.slotBytes(),
      holdVcpus: this.atomic ? () => host.holdVcpus() : null,
      attaching: this.attaching,
      addressSpace: this.addressSpace.name,
    }, errors);
    if (errors.length === 0) return;
    if (this.attaching) {
      this.attachError ??= errors[0];
      return;
    }
    throw errors[0];
  }

  /**
   * @internal addAddressSpace() after the replay: the listener is attached
   * from now on; returns the error the replay met, if any.
   */
  _endAttach(): Error | null {
    this.attaching = false;
    const e = this.attachError;
    this.attachError = null;
    return e;
  }

  // ------------------------------------------------------------ dirty log

  /** Pull KVM_GET_DIRTY_LOG for every logging slot backed by `block` into the VM's tracker. */
  syncDirtyLog(block: RamBlock): void {
    this.table.syncDirtyLog(block);
  }

  /**
   * @internal The VM is closing: forget every slot without ioctls (the
   * kernel drops them with the VM) and ignore further callbacks.
   */
  _detach(): void {
    this.detached = true;
    this.table.clear();
    this.reconciler.clear();
    this.trappedByKey.clear();
  }
}
