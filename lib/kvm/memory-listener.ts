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

/** What the listener needs from its VM. */
export interface ListenerHost {
  readonly native: NativeVm;
  /** Kick every vCPU running on a native thread out of KVM_RUN and keep it out; returns the release. */
  holdVcpus(): () => void;
  readonly dirty: DirtyTracker;
  checkExtension(cap: string): number;
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
}

interface SlotEntry extends Chunk {
  id: number;
  dirtyScratch?: { bytes: Uint8Array; words: Uint32Array; pages: number };
}

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

  private readonly byId: (SlotEntry | undefined)[] = [];
  private readonly byKey = new Map<string, SlotEntry>();
  private lowestFree = 0;
  /** chunks the flat view wants but that could not get a slot (table full); retried at every commit */
  private readonly unplaced = new Map<string, Chunk>();
  private dels: string[] = [];
  /** keyed by guest range: the last report of a range wins (a replay reports regionAdd and logStart) */
  private adds = new Map<string, Chunk>();
  private errors: Error[] = [];
  private detached = false;
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

  /** Sections the flat view wants mapped but that have no slot because the table was full. */
  get unplacedCount(): number {
    return this.unplaced.size;
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
   * kvm_align_section + the max-slot-size split.  Throws RangeError for a
   * section whose host memory and guest address disagree modulo the page
   * (the kernel would answer EINVAL; QEMU aborts).
   */
  private chunksOf(s: MemoryRegionSection, withHost: boolean): Chunk[] {
    const gpa0 = s.offsetWithinAddressSpace;
    const start = (gpa0 + HOST_PAGE - 1n) & ~(HOST_PAGE - 1n);
    const delta = start - gpa0;
    if (delta >= s.size) return [];
    const size = (s.size - delta) & ~(HOST_PAGE - 1n);
    if (size === 0n) return [];
    const mr = resolveRam(s.mr);
    const block = mr.ramBlock!;
    const regionOff = s.offsetWithinRegion + delta;
    let ua = 0n;
    let flags = 0;
    if (withHost) {
      if (regionOff % HOST_PAGE !== 0n) {
        throw new RangeError(
          `KVM memory listener: section ${hex(gpa0)}..${hex(gpa0 + s.size - 1n)} of "${s.mr.name}" maps guest address ${hex(start)} ` +
          `to offset ${hex(regionOff)} of the region, which is not 4 KiB aligned: guest and host addresses must be congruent ` +
          'modulo the page size (the kernel refuses such a slot with EINVAL). The section is left unmapped and its accesses trap.',
        );
      }
      ua = block.hostAddress + regionOff;
      flags = this.flagsFor(s);
    }
    const out: Chunk[] = [];
    for (let off = 0n; off < size; off += this.maxSlotSize) {
      const rest = size - off;
      const sz = rest < this.maxSlotSize ? rest : this.maxSlotSize;
      out.push({
        key: keyOf(start + off, sz), gpa: start + off, size: sz, ua: ua + off, flags, block,
        blockPage: Number((regionOff + off) >> 12n),
      });
    }
    return out;
  }

  // ------------------------------------------------------------ MemoryListener

  begin(): void {
    this.dels = [];
    this.adds = new Map();
    this.errors = [];
  }

  regionAdd(s: MemoryRegionSection): void {
    if (this.detached || !this.wantsSlot(s)) return;
    try {
      for (const c of this.chunksOf(s, true)) this.adds.set(c.key, c);
    } catch (e) {
      this.errors.push(e as Error);
    }
  }

  regionDel(s: MemoryRegionSection): void {
    // Decide by what may have been mapped, not by the region's state now: a
    // ROM device that just left romd mode must lose its slot.  Keys that have
    // no slot are ignored at commit.
    if (this.detached || (!s.mr.isRam && !s.mr.isRomDevice) || resolveRam(s.mr).ramBlock === null) return;
    for (const c of this.chunksOf(s, false)) this.dels.push(c.key);
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
    let chunks: Chunk[];
    try {
      chunks = this.chunksOf(s, true);
    } catch {
      return; // never had a slot (reported when it was added)
    }
    for (const c of chunks) {
      this.dels.push(c.key);
      this.adds.set(c.key, c);
    }
  }

  commit(): void {
    const dels = this.dels;
    const adds = this.adds;
    const errors = this.errors;
    this.dels = [];
    this.adds = new Map();
    this.errors = [];
    if (this.detached) return;
    if (dels.length === 0 && adds.size === 0 && this.unplaced.size === 0) {
      if (errors.length) throw errors[0];
      return;
    }

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
    for (const [k, c] of this.unplaced) {
      if (!adds.has(k)) {
        work.push({ chunk: c });
        retried.add(k);
      }
    }
    this.unplaced.clear();

    const delEntries = [...delSet].map((k) => this.byKey.get(k)!).sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
    work.sort((a, b) => (a.chunk.gpa < b.chunk.gpa ? -1 : a.chunk.gpa > b.chunk.gpa ? 1 : 0));

    // A vCPU in KVM_RUN could hit a page between its slot's deletion and the
    // re-addition: keep every running vCPU out while deletions are applied.
    const release = delEntries.length > 0 && this.atomic ? this.host.holdVcpus() : null;
    try {
      for (const e of delEntries) this.deleteSlot(e, errors);
      for (const w of work) {
        if (w.update) this.updateFlags(w.update, w.chunk.flags, errors);
        else this.addSlot(w.chunk, errors, retried.has(w.chunk.key));
      }
    } finally {
      release?.();
    }
    if (errors.length) throw errors[0];
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
      this.unplaced.set(c.key, c);
      return;
    }
    const id = this.allocId();
    if (id < 0) {
      this.unplaced.set(c.key, c);
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
