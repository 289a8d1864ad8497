/**
 * MemoryRegion: QEMU's memory region tree (include/exec/memory.h).
 *
 * Kinds and their flags follow QEMU 7.2:
 *  - container: no backing, leaves holes (terminates=false)
 *  - ram / rom: host memory backed (rom = ram + readonly), terminates
 *  - io: MMIO/PIO callbacks (no ops = a reservation: unassigned_mem_ops)
 *  - romDevice: reads straight from RAM while in romd mode, writes to ops
 *  - alias: a window [aliasOffset, aliasOffset+size) of another region
 *
 * Every mutator is its own transaction and only asks for a re-render when
 * QEMU would (the "pending" conditions of memory.c).  All arguments are
 * validated before anything changes, so a refused call changes nothing.
 *
 * This file is the class: its state, constructors, getters and the public
 * entry points.  The work is done beside it: region-checks.ts (argument
 * checks), region-links.ts (children and alias chains), region-size.ts
 * (set_size), region-ram.ts (host memory), region-eventfds.ts (ioeventfds).
 */
import type { ChildIndex } from './child-index';
import { MemoryRegionError } from './errors';
import type { RegionEventfd } from './ioeventfd';
import type { RamBlock, RamList } from './ram-block';
import { checkBool, checkName, checkOps, closedError } from './region-checks';
import { addEventfd, checkEventfd, delEventfd, dropEventfds, NO_EVENTFDS } from './region-eventfds';
import { aliasTarget, checkIsChild, checkLinkable, linkSubregion, unlinkSubregion } from './region-links';
import { attachRamBlock, type RamRegionOptions, regionBytes, resolveRam } from './region-ram';
import { resizeRegion } from './region-size';
import { int128ToU64, toAddress, toPriority, toRegionSize } from './size';
import { NO_SUBREGIONS, NOT_LISTED, type SubregionList } from './subregion-list';
import {
  beginTransaction, commitTransaction, globalDirtyLogActive, markDamage, markPendingWithoutDamage, transaction,
} from './transaction';
import { DIRTY_MEMORY_MIGRATION, DIRTY_MEMORY_VGA, type MemoryRegionOps } from './types';
import { UNASSIGNED_MEM_OPS } from './unassigned-ops';
import { hex, hexPadded } from '../util/hex';

export type { RamRegionOptions } from './region-ram';
export { UNASSIGNED_IO_OPS, UNASSIGNED_MEM_OPS } from './unassigned-ops';

export type RegionKind = 'container' | 'ram' | 'rom' | 'io' | 'romDevice' | 'alias';

let regionSeq = 0;

export class MemoryRegion {
  // Field order is memory layout (V8 lays the fields out in the order they
  // are defined): the fields that linking, unlinking and rendering read
  // come first (unlinking reads the first eight), so that a region costs
  // those walks two or three cache lines rather than all five of the
  // object: 100,000 children removed in random order miss the cache on
  // every one of them.
  /** @internal */ _container: MemoryRegion | null = null;
  /** @internal this region's entry in its container's SubregionList (NOT_LISTED outside one; an integer, so no boxed double per region) */ _listSlot = NOT_LISTED;
  /** @internal */ _addr = 0n;
  /** @internal 65-bit size (2^64 allowed) */ _size: bigint;
  /** @internal */ _enabled = true;
  /** alias target, or null */
  readonly alias: MemoryRegion | null;
  /** @internal */ _sizeEpoch = -1;
  /** @internal largest size during damage epoch _sizeEpoch (region-size.ts) */ _sizeHigh = 0n;
  /** @internal */ _priority = 0;
  /** @internal link order stamp: the list is (priority desc, _linkSeq desc) */ _linkSeq = 0;
  /** @internal */ _closed = false;
  /** @internal the children, priority descending, newest first among equals; leaves share NO_SUBREGIONS (small regions) */ _subregions: SubregionList = NO_SUBREGIONS;
  /** the region itself answers addresses its children do not cover */
  readonly terminates: boolean;
  /** @internal */ _readonly = false;
  /** @internal */ _nonvolatile = false;
  /** @internal */ _romdMode = true;
  /** @internal VGA logging requested */ _logVga = false;
  /** @internal */ _ramBlock: RamBlock | null = null;
  /** @internal address index of the children, built lazily by renders of narrow clips */ _childIndex: ChildIndex | null = null;
  /** @internal */ _aliasOffset = 0n;
  readonly name: string;
  readonly kind: RegionKind;
  /** unique creation number, handy for debugging and stable ordering */
  readonly id: number;
  /** host memory backed (RAM, ROM); false for ROM devices, as in QEMU */
  readonly isRam: boolean;
  readonly isRomDevice: boolean;
  /** MMIO callbacks (unassigned_mem_ops unless given) */
  readonly ops: MemoryRegionOps;
  /** @internal */ _ramList: RamList | null = null;
  /** @internal */ _mappedViaAlias = 0;
  /**
   * @internal the aliases of this region that can be rendered (in a
   * container, an AS root, or themselves the target of such an alias):
   * where a change inside this region shows up besides its container
   */
  _aliasUsers: Set<MemoryRegion> | null = null;
  /** @internal this alias is in its target's _aliasUsers */ _aliasRegistered = false;
  /** @internal how many address spaces have this region as their root */ _asRootCount = 0;

  private constructor(kind: RegionKind, name: string, size: bigint, ops: MemoryRegionOps | null, alias: MemoryRegion | null) {
    this.kind = kind;
    this.name = name;
    this.id = regionSeq++;
    this._size = size;
    this.isRam = kind === 'ram' || kind === 'rom';
    this.isRomDevice = kind === 'romDevice';
    this.terminates = kind !== 'container' && kind !== 'alias';
    this.ops = ops ?? UNASSIGNED_MEM_OPS;
    this.alias = alias;
    if (kind === 'rom') this._readonly = true;
  }

  // ---------------------------------------------------------------- creation

  /** memory_region_init: a pure container (leaves holes). */
  static container(name: string, size: bigint | number): MemoryRegion {
    checkName(name);
    return new MemoryRegion('container', name, toRegionSize(size), null, null);
  }

  /** memory_region_init_ram: RAM backed by host memory from the addon. */
  static ram(name: string, size: bigint | number, opts: RamRegionOptions = {}): MemoryRegion {
    checkName(name);
    const sz = toRegionSize(size);
    const mr = new MemoryRegion('ram', name, sz, null, null);
    attachRamBlock(mr, opts);
    return mr;
  }

  /** memory_region_init_rom: RAM + readonly (writes are dropped with DECODE_ERROR). */
  static rom(name: string, size: bigint | number, opts: RamRegionOptions = {}): MemoryRegion {
    checkName(name);
    const sz = toRegionSize(size);
    const mr = new MemoryRegion('rom', name, sz, null, null);
    attachRamBlock(mr, opts);
    return mr;
  }

  /** memory_region_init_io: device callbacks; no ops = a reservation (unassigned_mem_ops). */
  static io(name: string, size: bigint | number, ops?: MemoryRegionOps | null): MemoryRegion {
    checkName(name);
    const sz = toRegionSize(size);
    if (ops !== undefined && ops !== null) checkOps(ops);
    return new MemoryRegion('io', name, sz, ops ?? null, null);
  }

  /** memory_region_init_rom_device: RAM-backed reads in romd mode, writes always to ops. */
  static romDevice(name: string, size: bigint | number, ops: MemoryRegionOps, opts: RamRegionOptions = {}): MemoryRegion {
    checkName(name);
    const sz = toRegionSize(size);
    if (ops === undefined || ops === null) {
      throw new TypeError(`romDevice("${name}"): ops are mandatory for a ROM device (writes always go to them)`);
    }
    checkOps(ops);
    const mr = new MemoryRegion('romDevice', name, sz, ops, null);
    attachRamBlock(mr, opts);
    return mr;
  }

  /**
   * memory_region_init_alias: a window of `size` bytes of `target` starting at
   * `offset`.  An alias longer than what is left of its target is legal and
   * renders only the part that exists.
   */
  static alias(name: string, target: MemoryRegion, offset: bigint | number, size: bigint | number): MemoryRegion {
    checkName(name);
    if (!(target instanceof MemoryRegion)) {
      throw new TypeError(`alias("${name}"): target must be a MemoryRegion`);
    }
    if (target._closed) throw closedError(target);
    const off = toAddress(offset, 'alias offset');
    const sz = toRegionSize(size);
    const mr = new MemoryRegion('alias', name, sz, null, target);
    mr._aliasOffset = off;
    return mr;
  }

  // ---------------------------------------------------------------- getters

  /** 65-bit size: 2^64 for a region covering the whole address space */
  get size(): bigint {
    return this._size;
  }

  /** memory_region_size(): like size, but 2^64 is reported as UINT64_MAX */
  get sizeU64(): bigint {
    return int128ToU64(this._size);
  }

  /** offset inside the container */
  get addr(): bigint {
    return this._addr;
  }

  get priority(): number {
    return this._priority;
  }

  get container(): MemoryRegion | null {
    return this._container;
  }

  get enabled(): boolean {
    return this._enabled;
  }

  get readonly(): boolean {
    return this._readonly;
  }

  get nonvolatile(): boolean {
    return this._nonvolatile;
  }

  /** ROM device mode (true by default for every region, as in QEMU) */
  get romdMode(): boolean {
    return this._romdMode;
  }

  get aliasOffset(): bigint {
    return this._aliasOffset;
  }

  get isAlias(): boolean {
    return this.alias !== null;
  }

  /** children in QEMU list order: priority descending, newest first among equals */
  get subregions(): readonly MemoryRegion[] {
    return this._subregions.ordered().slice();
  }

  get ramBlock(): RamBlock | null {
    return this._ramBlock;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** dirty logging requested with setDirtyLogging (the VGA client) */
  get dirtyLogging(): boolean {
    return this._logVga;
  }

  /**
   * memory_region_get_dirty_log_mask(): the VGA bit if logging was asked for,
   * plus MIGRATION while global dirty tracking is on and the region has a RAM
   * block.  (CODE is TCG-only and never set here.)
   */
  get dirtyLogMask(): number {
    let mask = this._logVga ? 1 << DIRTY_MEMORY_VGA : 0;
    if (this._ramBlock !== null && globalDirtyLogActive()) mask |= 1 << DIRTY_MEMORY_MIGRATION;
    return mask;
  }

  /** memory_region_is_mapped(): in a container or mapped through an alias */
  get isMapped(): boolean {
    return this._container !== null || this._mappedViaAlias > 0;
  }

  /**
   * The type string of `info mtree` (memory_region_type): an alias shows its
   * target's type; romd (ROM device in romd mode), rom (RAM + readonly), ram,
   * otherwise i/o.
   */
  get typeName(): string {
    const mr = aliasTarget(this).region;
    if (mr.isRomDevice && mr._romdMode) return 'romd';
    if (mr.isRam && mr._readonly) return 'rom';
    if (mr.isRam) return 'ram';
    return 'i/o';
  }

  /**
   * Host userspace address of `offset` inside this region: follows the alias
   * chain adding each alias offset, then ramBlock.hostAddress + offset.
   */
  hostAddress(offset: bigint | number = 0n): bigint {
    const { block, off } = resolveRam(this, offset);
    return block.hostAddress + off;
  }

  /** ram_addr of `offset` inside this region (alias chain followed) */
  ramAddr(offset: bigint | number = 0n): bigint {
    const { block, off } = resolveRam(this, offset);
    return block.offset + off;
  }

  /**
   * Zero-copy view of this region's RAM (alias chain followed).  Defaults to
   * the whole region, clamped to the RAM block's used length.
   */
  bytes(offset: bigint | number = 0n, length?: bigint | number): Uint8Array {
    return regionBytes(this, offset, length);
  }

  // ---------------------------------------------------------------- mutators

  /** memory_region_add_subregion: add `child` at `addr` with priority 0. */
  addSubregion(addr: bigint | number, child: MemoryRegion): void {
    this.addSubregionCommon(addr, child, 0, 'addSubregion');
  }

  /** memory_region_add_subregion_overlap: add `child` at `addr` with `priority`. */
  addSubregionOverlap(addr: bigint | number, child: MemoryRegion, priority: number): void {
    this.addSubregionCommon(addr, child, priority, 'addSubregionOverlap');
  }

  private addSubregionCommon(addr: bigint | number, child: MemoryRegion, priority: number, fn: string): void {
    const a = toAddress(addr, 'subregion address');
    const p = toPriority(priority);
    if (!(child instanceof MemoryRegion)) throw new TypeError(`${fn}: child must be a MemoryRegion`);
    this.checkOpen();
    checkLinkable(this, child);
    // begin/commit rather than transaction(fn): no closure per child when
    // thousands are added in one transaction
    beginTransaction();
    try {
      child._addr = a;
      linkSubregion(this, child, p);
    } finally {
      commitTransaction();
    }
  }

  /** memory_region_del_subregion */
  removeSubregion(child: MemoryRegion): void {
    if (!(child instanceof MemoryRegion)) throw new TypeError('removeSubregion: child must be a MemoryRegion');
    checkIsChild(this, child);
    beginTransaction();
    try {
      unlinkSubregion(this, child);
    } finally {
      commitTransaction();
    }
  }

  /** memory_region_set_enabled (keeps the list position) */
  setEnabled(enabled: boolean): void {
    checkBool(enabled, 'enabled');
    if (enabled === this._enabled) return;
    this.checkOpen();
    transaction(() => {
      this._enabled = enabled;
      // forced: the window counts although one of the two states renders nothing
      markDamage(this, 0n, this._size, true);
    });
  }

  /**
   * memory_region_set_address: moving a mapped region removes and re-adds it
   * with the same priority, so it becomes the newest of its priority group
   * (wins ties).
   */
  setAddress(addr: bigint | number): void {
    const a = toAddress(addr, 'address');
    if (a === this._addr) return;
    const c = this._container;
    transaction(() => {
      if (c) {
        const prio = this._priority;
        unlinkSubregion(c, this);
        this._addr = a;
        linkSubregion(c, this, prio);
      } else {
        this._addr = a;
      }
    });
  }

  /** memory_region_set_alias_offset */
  setAliasOffset(offset: bigint | number): void {
    const o = toAddress(offset, 'alias offset');
    if (!this.alias) throw new MemoryRegionError(`setAliasOffset: region "${this.name}" is not an alias`);
    if (o === this._aliasOffset) return;
    this.setFlag(() => {
      this._aliasOffset = o;
    });
  }

  /** memory_region_set_readonly (any region; it propagates down the render path) */
  setReadonly(readonly: boolean): void {
    checkBool(readonly, 'readonly');
    if (readonly === this._readonly) return;
    this.setFlag(() => {
      this._readonly = readonly;
    });
  }

  /** memory_region_set_nonvolatile */
  setNonvolatile(nonvolatile: boolean): void {
    checkBool(nonvolatile, 'nonvolatile');
    if (nonvolatile === this._nonvolatile) return;
    this.setFlag(() => {
      this._nonvolatile = nonvolatile;
    });
  }

  /** memory_region_rom_device_set_romd: false sends reads to the device ops too */
  setRomdMode(romdMode: boolean): void {
    checkBool(romdMode, 'romdMode');
    if (!this.isRomDevice) {
      throw new MemoryRegionError(`setRomdMode: region "${this.name}" is not a ROM device (create it with MemoryRegion.romDevice)`);
    }
    if (romdMode === this._romdMode) return;
    this.setFlag(() => {
      this._romdMode = romdMode;
    });
  }

  /**
   * memory_region_set_log(mr, log, DIRTY_MEMORY_VGA): ask listeners (KVM) to
   * log guest writes to this region.  Deliberately a boolean, not QEMU's
   * per-region reference count.
   */
  setDirtyLogging(log: boolean): void {
    checkBool(log, 'log');
    if (log === this._logVga) return;
    this.setFlag(() => {
      this._logVga = log;
    });
  }

  /**
   * memory_region_set_size (UINT64_MAX means 2^64).  For RAM-backed regions
   * the size may not exceed the RAM block; use ramBlock.resize() to change
   * the used length of a resizable block.
   */
  setSize(size: bigint | number): void {
    const s = toRegionSize(size);
    this.checkOpen();
    const block = this._ramBlock;
    if (block && s > block.maxLength) {
      throw new RangeError(`setSize: ${hex(s)} is larger than the RAM block of "${this.name}" (${hex(block.maxLength)} bytes); RAM cannot grow past its block`);
    }
    resizeRegion(this, s);
  }

  /** @internal used by RamBlock.resize (qemu_ram_resize) */
  _setSizeFromRamBlock(size: bigint): void {
    resizeRegion(this, toRegionSize(size));
  }

  // ------------------------------------------------------------ ioeventfds

  /** @internal in QEMU's order (region-eventfds.ts keeps it; NO_EVENTFDS, shared, until the first) */ _ioeventfds: RegionEventfd[] = NO_EVENTFDS;

  /** The ioeventfds registered on this region, in QEMU's order. */
  get ioeventfds(): readonly RegionEventfd[] {
    return this._ioeventfds;
  }

  /**
   * memory_region_add_eventfd: a guest write of `size` bytes (0: any size) at
   * `addr` (of `data`, when `matchData`) signals `notifier`. Listeners of
   * every address space showing this part of the region get eventfdAdd.
   */
  addEventfd(addr: bigint | number, size: bigint | number, matchData: boolean, data: bigint | number, notifier: object): void {
    this.checkOpen();
    addEventfd(this, checkEventfd(this, addr, size, matchData, data, notifier));
  }

  /** memory_region_del_eventfd: removes an ioeventfd added with the same arguments (size 0 matches any). */
  delEventfd(addr: bigint | number, size: bigint | number, matchData: boolean, data: bigint | number, notifier: object): void {
    this.checkOpen();
    delEventfd(this, checkEventfd(this, addr, size, matchData, data, notifier));
  }

  private setFlag(apply: () => void): void {
    this.checkOpen();
    transaction(() => {
      apply();
      // flags and the alias offset only change what this region renders, inside its extent
      if (this._enabled) markDamage(this, 0n, this._size, false);
    });
  }

  /**
   * Destroy the region (QEMU finalize): disable it, take it out of its
   * container and drop its children in one transaction, then free its RAM
   * block (host memory is unmapped, views detach).  Aliases that still point
   * here render nothing afterwards.  Idempotent.
   */
  close(): void {
    if (this._closed) return;
    transaction(() => {
      const wasEnabled = this._enabled;
      this._enabled = false;
      // QEMU always re-renders here; an already disabled region renders nothing to damage
      if (wasEnabled) markDamage(this, 0n, this._size, true);
      else markPendingWithoutDamage();
      if (this._container) unlinkSubregion(this._container, this);
      for (const c of this._subregions.ordered().slice()) unlinkSubregion(this, c);
      dropEventfds(this);
      this._closed = true;
    });
    if (this._ramBlock && this._ramList) this._ramList.remove(this._ramBlock);
  }

  private checkOpen(): void {
    if (this._closed) throw closedError(this);
  }

  toString(): string {
    return `MemoryRegion(${this.kind} "${this.name}" ${hexPadded(this._addr, 16)}+${hex(this._size)})`;
  }
}
