// The KVM memory listener: keeps the kernel's memory slot table equal to the
// RAM-backed sections of an AddressSpace's flat view (QEMU accel/kvm/kvm-all.c
// kvm_memory_listener, with the atomic commit of QEMU >= 8.0).
//
// Every transaction the memory core commits arrives as begin, regionDel /
// regionAdd / logStart / logStop per section, commit.  The section callbacks
// only queue work; commit() reconciles the queued deletions and additions and
// issues the minimum ioctls: a chunk that is deleted and re-added with the
// same guest range, host address and flags is not touched, one that differs
// only in KVM_MEM_LOG_DIRTY_PAGES is one flags-only ioctl, everything else is
// delete (size 0) then add, all deletions (ascending old GPA) before all
// additions (ascending new GPA).  While deletions are applied every vCPU that
// runs on a native thread is held outside KVM_RUN, so a guest never sees a
// page of a split/merged/moved slot missing.
//
// A RAM-backed range KVM cannot take is not given to KVM: it is *trapped*
// (the guest's accesses exit as MMIO and go through the model, which reads and
// writes the same RAM bytes), listed by trapped() and, once per range, reported
// with a NODE_KVM_UNSLOTTABLE warning.  So attaching never fails half-way and
// the slot table is always the slottable part of the flat view.  QEMU aborts
// on such ranges (incongruent host/guest page offset) instead.
import type { NativeVm } from '../binding';
import { PAGE_SIZE } from '../memory/ram-block';
import { kvmConstant } from '../binding';
import { KvmError, translateNativeError } from '../errors';
import type { AddressSpace } from '../memory/address-space';
import type { RamBlock } from '../memory/ram-block';
import type { MemoryRegion } from '../memory/region';
import type { MemoryRegionSection } from '../memory/section';
import { MemTxResult, type MemoryListener } from '../memory/types';
import { DirtyTracker, kvmBitmapBytes } from './dirty-log';
import { guestMemoryLimit, guestMemoryLimitError, type GuestMemoryLimit } from '../host-limits';

export const KVM_MEM_LOG_DIRTY_PAGES = 1;
export const KVM_MEM_READONLY = 2;
const HOST_PAGE = PAGE_SIZE; // KVM slots are in host pages: 4 KiB on x86-64
/** KVM_MEM_MAX_NR_PAGES on x86: (1 << 31) - 1 pages per slot */
export const KVM_MAX_SLOT_SIZE = ((1n << 31n) - 1n) * HOST_PAGE;
const ENOSPC = 28;

/** One live KVM memory slot, as the kernel has it. */
export interface KvmSlot {
  /** slot id inside its address space (the ioctl's slot field is slot | asId << 16) */
  slot: number;
  asId: number;
  flags: number;
  guestPhysAddr: bigint;
  memorySize: bigint;
  userspaceAddr: bigint;
}

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

/** The warning code of a RAM-backed range that gets no KVM slot (process.emitWarning). */
export const UNSLOTTABLE_WARNING = 'NODE_KVM_UNSLOTTABLE';

/**
 * Why a RAM-backed flat-view range has no KVM slot:
 * - `sub-page`: the part of the range that does not fill a whole aligned 4 KiB
 *   page (QEMU's kvm_align_section drops it too; not warned);
 * - `incongruent`: its host address and guest address differ modulo 4 KiB
 *   (an alias into RAM at an odd offset), which KVM refuses;
 * - `above-phys-bits`: at or above 2^N, N the guest physical-address width
 *   (CPUID 0x80000008 EAX[7:0] of KVM_GET_SUPPORTED_CPUID): no guest access
 *   can reach it, and KVM refuses slots ending beyond what it supports (2^64
 *   always);
 * - `no-free-slot`: every KVM slot is in use (retried at every commit);
 * - `host-memory-limit`: the VM's slots would exceed the guest-RAM limit
 *   (lib/host-limits.ts; retried at every commit);
 * - `stale-slot`: a slot of the same range survived a failed delete (retried).
 */
export type TrappedReason = 'sub-page' | 'incongruent' | 'above-phys-bits' | 'no-free-slot' | 'host-memory-limit' | 'stale-slot';

/** A RAM-backed guest range without a slot: the guest's accesses to it trap to the model. */
export interface TrappedRange {
  start: bigint;
  size: bigint;
  reason: TrappedReason;
  /** KVM address space id of the listener */
  asId: number;
  /** the flat-view range's region (an alias's name, as `info mtree -f` prints it) */
  region: string;
}

/** What the listener needs from its VM. */
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

/** A page-aligned piece of a section, i.e. one slot's worth. */
interface Chunk {
  key: string;
  gpa: bigint;
  size: bigint;
  ua: bigint;
  flags: number;
  block: RamBlock;
  /** page index inside the block of the chunk's first page */
  blockPage: number;
  /** the section's region name, for trapped() */
  region: string;
}

interface SlotEntry extends Chunk {
  id: number;
  dirtyScratch?: { bytes: Uint8Array; words: Uint32Array; pages: number };
}

/** A chunk waiting for a slot, and why it has none yet. */
interface Unplaced {
  chunk: Chunk;
  reason: 'no-free-slot' | 'host-memory-limit' | 'stale-slot';
}

/** What a section gives KVM: slot-sized chunks, and the ranges that stay trapped. */
interface Pieces {
  chunks: Chunk[];
  trapped: TrappedRange[];
}

const byStart = (a: { start: bigint }, b: { start: bigint }) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);

function keyOf(gpa: bigint, size: bigint): string {
  return `${gpa.toString(16)}+${size.toString(16)}`;
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

function traceWanted(): boolean {
  const env = process.env.NODE_KVM_TRACE;
  if (!env) return false;
  return env.split(',').map((p) => p.trim()).some((p) => {
    if (p === '') return false;
    // QEMU trace patterns: a trailing * matches any suffix
    if (p.endsWith('*')) return 'kvm_set_user_memory'.startsWith(p.slice(0, -1));
    return p === 'kvm_set_user_memory';
  });
}

/** The terminating region of an alias chain and the offset inside it. */
function resolveRam(mr: MemoryRegion): MemoryRegion {
  let m = mr;
  while (m.alias) m = m.alias;
  return m;
}

export class KvmMemoryListener implements MemoryListener {
  readonly priority = 10;
  readonly accelName = 'KVM';
  readonly asId: number;
  readonly addressSpace: AddressSpace;

  private readonly host: ListenerHost;
  private readonly nrSlots: number;
  private readonly maxSlotSize: bigint;
  private readonly readonlyMem: boolean;
  private readonly traceFn: ((line: string) => void) | null;
  private readonly atomic: boolean;
  /** the guest physical-address width, and 2^it: no slot reaches beyond it */
  private readonly physBits: number;
  private readonly physLimit: bigint;

  private readonly byId: (SlotEntry | undefined)[] = [];
  private readonly byKey = new Map<string, SlotEntry>();
  private lowestFree = 0;
  /** chunks the flat view wants but that could not get a slot (table full, memory limit); retried at every commit */
  private readonly unplaced = new Map<string, Unplaced>();
  /** RAM-backed ranges of the flat view that can never be a slot, keyed by guest range */
  private readonly trappedByKey = new Map<string, TrappedRange>();
  /** ranges already reported with a warning (once per distinct range and reason) */
  private readonly warned = new Set<string>();
  private liveBytes = 0n;
  private dels: string[] = [];
  /** keyed by guest range: the last report of a range wins (a replay reports regionAdd and logStart) */
  private adds = new Map<string, Chunk>();
  private trapDels: string[] = [];
  private trapAdds = new Map<string, TrappedRange>();
  private detached = false;
  /** true during the replay of addAddressSpace(): errors are kept for it instead of thrown */
  private attaching = true;
  private attachError: Error | null = null;
  /** ioctls issued so far (for benchmarks and tests) */
  ioctlCount = 0;

  /** @internal use vm.addAddressSpace() */
  constructor(host: ListenerHost, as: AddressSpace, opts: KvmMemoryListenerOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('addAddressSpace options must be an object');
    const asId = opts.asId ?? 0;
    if (!Number.isInteger(asId) || asId < 0 || asId > 0xffff) throw new RangeError(`asId must be an integer in [0, 65535], got ${String(asId)}`);
    const nrAs = Math.max(host.checkExtension('MULTI_ADDRESS_SPACE'), 1);
    if (asId >= nrAs) {
      throw new KvmError('KVM_SET_USER_MEMORY_REGION', 22 /* EINVAL */,
        `address space id ${asId}: this KVM supports ${nrAs} address space${nrAs === 1 ? '' : 's'} (KVM_CAP_MULTI_ADDRESS_SPACE)`);
    }
    const cap = host.checkExtension('NR_MEMSLOTS') || 32;
    let nr = cap;
    if (opts.maxSlots !== undefined) {
      if (!Number.isInteger(opts.maxSlots) || opts.maxSlots < 1) throw new RangeError(`maxSlots must be a positive integer, got ${String(opts.maxSlots)}`);
      nr = Math.min(cap, opts.maxSlots);
    }
    let mss = KVM_MAX_SLOT_SIZE;
    if (opts.maxSlotSize !== undefined) {
      if (typeof opts.maxSlotSize !== 'bigint') throw new TypeError('maxSlotSize must be a bigint');
      if (opts.maxSlotSize <= 0n || opts.maxSlotSize % HOST_PAGE !== 0n) throw new RangeError(`maxSlotSize must be a positive multiple of 4 KiB, got ${hex(opts.maxSlotSize)}`);
      mss = opts.maxSlotSize < KVM_MAX_SLOT_SIZE ? opts.maxSlotSize : KVM_MAX_SLOT_SIZE;
    }
    const ro = host.checkExtension('READONLY_MEM') > 0;
    if (opts.readonlyMem !== undefined && typeof opts.readonlyMem !== 'boolean') throw new TypeError('readonlyMem must be a boolean');
    if (opts.trace !== undefined && typeof opts.trace !== 'boolean' && typeof opts.trace !== 'function') {
      throw new TypeError('trace must be a boolean or a function(line)');
    }
    this.host = host;
    this.asId = asId;
    this.addressSpace = as;
    this.nrSlots = nr;
    this.maxSlotSize = mss;
    this.readonlyMem = ro && opts.readonlyMem !== false;
    if (opts.atomic !== undefined && typeof opts.atomic !== 'boolean') throw new TypeError('atomic must be a boolean');
    this.atomic = opts.atomic !== false;
    this.physBits = host.guestPhysBits();
    this.physLimit = 1n << BigInt(this.physBits);
    if (typeof opts.trace === 'function') this.traceFn = opts.trace;
    else if (opts.trace === true || (opts.trace === undefined && traceWanted())) this.traceFn = (l) => process.stderr.write(l + '\n');
    else this.traceFn = null;
  }

  // ------------------------------------------------------------ queries

  /** The live slots, ascending guest address. */
  slots(): KvmSlot[] {
    const out: KvmSlot[] = [];
    for (const e of this.byKey.values()) {
      out.push({ slot: e.id, asId: this.asId, flags: e.flags, guestPhysAddr: e.gpa, memorySize: e.size, userspaceAddr: e.ua });
    }
    return out.sort((a, b) => (a.guestPhysAddr < b.guestPhysAddr ? -1 : a.guestPhysAddr > b.guestPhysAddr ? 1 : 0));
  }

  /** Sections the flat view wants mapped but that have no slot yet (table full, memory limit). */
  get unplacedCount(): number {
    return this.unplaced.size;
  }

  /**
   * The RAM-backed ranges of the flat view that have no slot, ascending: the
   * guest's accesses to them exit as MMIO and are served by the model.
   * Together with slots() they cover every byte the listener maps (RAM, ROM,
   * a ROM device in romd mode when read-only slots exist).
   */
  trapped(): TrappedRange[] {
    const out = [...this.trappedByKey.values()].map((t) => ({ ...t }));
    for (const u of this.unplaced.values()) {
      out.push({ start: u.chunk.gpa, size: u.chunk.size, reason: u.reason, asId: this.asId, region: u.chunk.region });
    }
    return out.sort(byStart);
  }

  /** Bytes in this listener's live slots. */
  get slotBytes(): bigint {
    return this.liveBytes;
  }

  /**
   * QEMU's kvm_accel has_memory: a slot starts exactly at `start` and is
   * exactly min(maxSlotSize, size) long (only the first chunk is checked).
   */
  hasMemory(start: bigint, size: bigint): boolean {
    const sz = size < this.maxSlotSize ? size : this.maxSlotSize;
    return this.byKey.has(keyOf(start, sz));
  }

  // ------------------------------------------------------------ section -> chunks

  /**
   * kvm_mem_flags, but read-only follows the *section* (a read-only alias
   * of RAM gets KVM_MEM_READONLY), deliberately unlike QEMU 7.2.
   */
  private flagsFor(s: MemoryRegionSection): number {
    const mr = s.mr;
    let f = 0;
    if (mr.dirtyLogMask !== 0) f |= KVM_MEM_LOG_DIRTY_PAGES;
    if (this.readonlyMem && (s.readonly || mr.readonly || (mr.isRomDevice && mr.romdMode))) f |= KVM_MEM_READONLY;
    return f;
  }

  /** Does this section get a slot at all?  (kvm_set_phys_mem's filter) */
  private wantsSlot(s: MemoryRegionSection): boolean {
    const mr = s.mr;
    if (mr.isRam) return mr.ramBlock !== null;
    // ROM device: a read-only slot only in romd mode and only if KVM can
    // make it read-only; otherwise every access traps to the device.
    if (mr.isRomDevice) return mr.romdMode && this.readonlyMem && mr.ramBlock !== null;
    return false;
  }

  /**
   * kvm_align_section + the max-slot-size split, and the parts of the
   * section that cannot be a slot (see TrappedReason).  Depends only on the
   * section and the listener, so a deletion finds the same pieces again.
   * `withHost` false: no host address (the block may be freed already).
   */
  private piecesOf(s: MemoryRegionSection, withHost: boolean): Pieces {
    const gpa0 = s.offsetWithinAddressSpace;
    const end0 = gpa0 + s.size;
    const region = s.mr.name;
    const trapped: TrappedRange[] = [];
    const trap = (from: bigint, to: bigint, reason: TrappedReason) => {
      if (to > from) trapped.push({ start: from, size: to - from, reason, asId: this.asId, region });
    };
    const start = (gpa0 + HOST_PAGE - 1n) & ~(HOST_PAGE - 1n);
    let end = end0 & ~(HOST_PAGE - 1n);
    if (end <= start) {
      trap(gpa0, end0, 'sub-page');
      return { chunks: [], trapped };
    }
    trap(gpa0, start, 'sub-page');
    trap(end, end0, 'sub-page');
    const regionOff = s.offsetWithinRegion + (start - gpa0);
    if (regionOff % HOST_PAGE !== 0n) {
      // the kernel refuses a slot whose host and guest addresses differ modulo the page (EINVAL)
      trap(start, end, 'incongruent');
      return { chunks: [], trapped: trapped.sort(byStart) };
    }
    if (end > this.physLimit) {
      trap(start > this.physLimit ? start : this.physLimit, end, 'above-phys-bits');
      end = start > this.physLimit ? start : this.physLimit;
    }
    const mr = resolveRam(s.mr);
    const block = mr.ramBlock!;
    const ua = withHost ? block.hostAddress + regionOff : 0n;
    const flags = withHost ? this.flagsFor(s) : 0;
    const chunks: Chunk[] = [];
    for (let off = 0n; off < end - start; off += this.maxSlotSize) {
      const rest = end - start - off;
      const sz = rest < this.maxSlotSize ? rest : this.maxSlotSize;
      chunks.push({
        key: keyOf(start + off, sz), gpa: start + off, size: sz, ua: ua + off, flags, block,
        blockPage: Number((regionOff + off) >> 12n), region,
      });
    }
    return { chunks, trapped: trapped.sort(byStart) };
  }

  /** One NODE_KVM_UNSLOTTABLE warning per distinct range and reason (sub-page pieces are QEMU's silent norm). */
  private warnOnce(t: TrappedRange): void {
    if (t.reason === 'sub-page') return;
    const id = `${keyOf(t.start, t.size)}:${t.reason}`;
    if (this.warned.has(id)) return;
    this.warned.add(id);
    const range = `${hex(t.start)}..${hex(t.start + t.size - 1n)}`;
    const why = t.reason === 'incongruent'
      ? 'its host address and guest address differ modulo 4 KiB (an alias into RAM at an offset that is not a multiple of 4 KiB), ' +
        'which KVM cannot map. Align the alias offset to 4 KiB to give it a slot'
      : `it lies at or above 2^${this.physBits}, the guest's physical-address width ` +
        '(CPUID 0x80000008 EAX[7:0] of KVM_GET_SUPPORTED_CPUID), so no guest access can reach it. This is the guest\'s ' +
        `address width, not a lack of host memory: place guest RAM below ${hex(this.physLimit)} for the guest to see it`;
    process.emitWarning(
      `KVM memory listener: RAM range ${range} of "${t.region}" gets no KVM slot: ${why}. ` +
      'Its guest accesses trap and are served by the memory model (slower, same bytes); see listener.trapped().',
      { code: UNSLOTTABLE_WARNING, detail: `reason: ${t.reason}` },
    );
  }

  // ------------------------------------------------------------ MemoryListener

  begin(): void {
    this.dels = [];
    this.adds = new Map();
    this.trapDels = [];
    this.trapAdds = new Map();
  }

  regionAdd(s: MemoryRegionSection): void {
    if (this.detached || !this.wantsSlot(s)) return;
    const p = this.piecesOf(s, true);
    for (const c of p.chunks) this.adds.set(c.key, c);
    for (const t of p.trapped) this.trapAdds.set(keyOf(t.start, t.size), t);
  }

  regionDel(s: MemoryRegionSection): void {
    // Decide by what may have been mapped, not by the region's state now: a
    // ROM device that just left romd mode must lose its slot.  Keys that have
    // no slot are ignored at commit.
    if (this.detached || (!s.mr.isRam && !s.mr.isRomDevice) || resolveRam(s.mr).ramBlock === null) return;
    const p = this.piecesOf(s, false);
    for (const c of p.chunks) this.dels.push(c.key);
    for (const t of p.trapped) this.trapDels.push(keyOf(t.start, t.size));
  }

  /** Dirty logging switched on or off: re-add with new flags; commit turns it into a flags-only ioctl. */
  logStart(s: MemoryRegionSection, oldMask: number): void {
    if (oldMask === 0) this.relog(s);
  }

  logStop(s: MemoryRegionSection, _oldMask: number, newMask: number): void {
    if (newMask === 0) this.relog(s);
  }

  private relog(s: MemoryRegionSection): void {
    if (this.detached || !this.wantsSlot(s)) return;
    for (const c of this.piecesOf(s, true).chunks) {
      this.dels.push(c.key);
      this.adds.set(c.key, c);
    }
  }

  /**
   * Applies the queued changes.  Errors (a full table, the memory limit, a
   * failed ioctl) are thrown after everything else was applied, so the table
   * is still what the kernel has; during addAddressSpace()'s replay they are
   * kept for it instead (it then detaches the listener cleanly).
   */
  commit(): void {
    const dels = this.dels;
    const adds = this.adds;
    const trapDels = this.trapDels;
    const trapAdds = this.trapAdds;
    this.begin();
    if (this.detached) return;
    for (const k of trapDels) this.trappedByKey.delete(k);
    for (const [k, t] of trapAdds) {
      this.trappedByKey.set(k, t);
      this.warnOnce(t);
    }
    const errors: Error[] = [];
    this.applySlots(dels, adds, errors);
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

  private applySlots(dels: string[], adds: Map<string, Chunk>, errors: Error[]): void {
    if (dels.length === 0 && adds.size === 0 && this.unplaced.size === 0) return;

    // Reconcile: which deletions are really needed, which adds are no-ops
    // or flags-only updates.
    const delSet = new Set<string>();
    for (const k of dels) {
      if (this.byKey.has(k)) delSet.add(k);
      else this.unplaced.delete(k);
    }
    const work: { chunk: Chunk; update?: SlotEntry }[] = [];
    for (const c of adds.values()) {
      const old = this.byKey.get(c.key);
      if (old !== undefined && delSet.has(c.key) && old.ua === c.ua && old.block === c.block) {
        if (old.flags === c.flags) {
          delSet.delete(c.key); // unchanged slot: not touched
          continue;
        }
        if (((old.flags ^ c.flags) & ~KVM_MEM_LOG_DIRTY_PAGES) === 0) {
          delSet.delete(c.key); // only dirty logging changed: one flags-only ioctl
          work.push({ chunk: c, update: old });
          continue;
        }
      }
      work.push({ chunk: c });
    }
    // retry what did not fit earlier (unless this commit re-adds or deletes it)
    const retried = new Set<string>();
    for (const [k, u] of this.unplaced) {
      if (!adds.has(k)) {
        work.push({ chunk: u.chunk });
        retried.add(k);
      }
    }
    this.unplaced.clear();

    const delEntries = [...delSet].map((k) => this.byKey.get(k)!).sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
    work.sort((a, b) => (a.chunk.gpa < b.chunk.gpa ? -1 : a.chunk.gpa > b.chunk.gpa ? 1 : 0));

    // The host-memory budget (per VM), checked before any ioctl: a replay
    // that would exceed it makes no slot at all; a later commit applies its
    // deletions and places what fits, in ascending order.
    let limit: GuestMemoryLimit | null = null;
    let newBytes = 0n;
    for (const w of work) if (!w.update) newBytes += w.chunk.size;
    if (newBytes > 0n) {
      try {
        limit = guestMemoryLimit();
      } catch (e) {
        errors.push(e as Error); // a malformed NODE_KVM_MAX_GUEST_RAM: nothing is added
      }
      let projected = this.host.slotBytes() + newBytes;
      for (const e of delEntries) projected -= e.size;
      if (limit !== null && projected > limit.bytes) {
        // (chunks that only wait for a retry were reported when they first failed)
        if (work.some((w) => !w.update && !retried.has(w.chunk.key))) {
          errors.push(guestMemoryLimitError(`KVM slots of the VM with address space "${this.addressSpace.name}"`, projected, limit));
        }
        if (this.attaching) return;
      }
    }

    // A vCPU in KVM_RUN could hit a page between its slot's deletion and the
    // re-addition: keep every running vCPU out while deletions are applied.
    const release = delEntries.length > 0 && this.atomic ? this.host.holdVcpus() : null;
    try {
      for (const e of delEntries) this.deleteSlot(e, errors);
      for (const w of work) {
        if (w.update) this.updateFlags(w.update, w.chunk.flags, errors);
        else if (limit === null || this.host.slotBytes() + w.chunk.size > limit.bytes) {
          this.unplaced.set(w.chunk.key, { chunk: w.chunk, reason: 'host-memory-limit' });
        } else this.addSlot(w.chunk, errors, retried.has(w.chunk.key));
      }
    } finally {
      release?.();
    }
  }

  // ------------------------------------------------------------ ioctls

  private ioctl(id: number, flags: number, gpa: bigint, size: bigint, ua: bigint): void {
    const slotField = id | (this.asId << 16);
    this.ioctlCount++;
    try {
      this.host.native.setUserMemoryRegion(slotField, flags, gpa, size, ua);
    } catch (err) {
      const e = translateNativeError(err, `slot ${slotField} gpa=${hex(gpa)} size=${hex(size)} ua=${hex(ua)}`);
      if (this.traceFn) this.traceFn(`kvm_set_user_memory Slot#${slotField} flags=${hex(flags)} gpa=${hex(gpa)} size=${hex(size)} ua=${hex(ua)} ret=${e instanceof KvmError ? -e.errno : -1}`);
      throw e;
    }
    if (this.traceFn) this.traceFn(`kvm_set_user_memory Slot#${slotField} flags=${hex(flags)} gpa=${hex(gpa)} size=${hex(size)} ua=${hex(ua)} ret=0`);
  }

  private syncDirty(e: SlotEntry): void {
    if ((e.flags & KVM_MEM_LOG_DIRTY_PAGES) === 0) return;
    // One scratch bitmap per slot (with a word view of it), reused: this runs
    // on every snapshot restore.
    if (e.dirtyScratch === undefined) {
      const bytes = new Uint8Array(kvmBitmapBytes(e.size));
      e.dirtyScratch = { bytes, words: new Uint32Array(bytes.buffer), pages: Number(e.size >> 12n) };
    }
    const scratch = e.dirtyScratch;
    this.host.native.getDirtyLog(e.id | (this.asId << 16), scratch.bytes);
    this.host.dirty.addSlotBitmap(e.block, e.blockPage, scratch.words, scratch.pages);
  }

  private deleteSlot(e: SlotEntry, errors: Error[]): void {
    try {
      this.syncDirty(e); // QEMU syncs a logging slot's bits before deleting it
    } catch {
      // best effort, as in QEMU
    }
    try {
      this.ioctl(e.id, 0, e.gpa, 0n, e.ua);
    } catch (err) {
      // The kernel still has the slot: keep it in the table so the table
      // stays what the kernel has.
      errors.push(err as Error);
      return;
    }
    this.byKey.delete(e.key);
    this.byId[e.id] = undefined;
    this.liveBytes -= e.size;
    if (e.id < this.lowestFree) this.lowestFree = e.id;
  }

  private updateFlags(e: SlotEntry, flags: number, errors: Error[]): void {
    if ((e.flags & KVM_MEM_LOG_DIRTY_PAGES) !== 0 && (flags & KVM_MEM_LOG_DIRTY_PAGES) === 0) {
      try {
        this.syncDirty(e); // keep what was logged before logging stops
      } catch {
        // best effort
      }
    }
    try {
      this.ioctl(e.id, flags, e.gpa, e.size, e.ua);
    } catch (err) {
      errors.push(err as Error);
      return;
    }
    e.flags = flags;
  }

  private allocId(): number {
    for (let i = this.lowestFree; i < this.nrSlots; i++) {
      if (this.byId[i] === undefined) {
        this.lowestFree = i + 1;
        return i;
      }
    }
    this.lowestFree = this.nrSlots;
    return -1;
  }

  private addSlot(c: Chunk, errors: Error[], isRetry: boolean): void {
    if (this.byKey.has(c.key)) {
      // a stale slot with the same range survived a failed delete; the kernel
      // would answer EEXIST (QEMU aborts here).  Leave it for the next commit.
      this.unplaced.set(c.key, { chunk: c, reason: 'stale-slot' });
      return;
    }
    const id = this.allocId();
    if (id < 0) {
      this.unplaced.set(c.key, { chunk: c, reason: 'no-free-slot' });
      if (!isRetry) {
        errors.push(new KvmError('KVM_SET_USER_MEMORY_REGION', ENOSPC,
          `no free slot for gpa=${hex(c.gpa)} size=${hex(c.size)}: all ${this.nrSlots} slots are in use; ` +
          'the section stays unmapped (its accesses trap) and is retried at the next commit'));
      }
      return;
    }
    try {
      this.ioctl(id, c.flags, c.gpa, c.size, c.ua);
    } catch (err) {
      if (id < this.lowestFree) this.lowestFree = id;
      errors.push(err as Error);
      return;
    }
    const e: SlotEntry = { ...c, id };
    this.byId[id] = e;
    this.byKey.set(c.key, e);
    this.liveBytes += c.size;
  }

  // ------------------------------------------------------------ dirty log

  /** Pull KVM_GET_DIRTY_LOG for every logging slot backed by `block` into the VM's tracker. */
  syncDirtyLog(block: RamBlock): void {
    for (const e of this.byKey.values()) {
      if (e.block === block) this.syncDirty(e);
    }
  }

  /**
   * @internal The VM is closing: forget every slot without ioctls (the
   * kernel drops them with the VM) and ignore further callbacks.
   */
  _detach(): void {
    this.detached = true;
    this.byKey.clear();
    this.byId.length = 0;
    this.unplaced.clear();
    this.trappedByKey.clear();
    this.liveBytes = 0n;
  }
}

/**
 * Route a guest MMIO exit through the memory model, with the write rule that
 * goes with section-based KVM_MEM_READONLY: a guest write to a read-only
 * section (ROM, a read-only alias of RAM) is dropped, except that a ROM
 * device always gets its writes through its `write` callback.
 * Returns { result, dropped }; for reads `data` is filled in place.
 */
export function guestMmioAccess(
  as: AddressSpace, address: bigint, data: Uint8Array, isWrite: boolean,
): { result: number; dropped: boolean } {
  if (isWrite) {
    const s = as.findSection(address, 1n);
    if (s !== null && !s.mr.isRomDevice && (s.readonly || (s.mr.isRam && s.mr.readonly))) {
      return { result: MemTxResult.DECODE_ERROR, dropped: true };
    }
  }
  return { result: as.rw(address, data, isWrite), dropped: false };
}

/** KVM_MEM_* flag values from the addon (checked against our constants once). */
export function checkSlotFlagConstants(): void {
  if (kvmConstant('KVM_MEM_LOG_DIRTY_PAGES') !== KVM_MEM_LOG_DIRTY_PAGES || kvmConstant('KVM_MEM_READONLY') !== KVM_MEM_READONLY) {
    throw new Error('node-kvm: unexpected KVM_MEM_* flag values');
  }
}
