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
 */
import type { ChildIndex } from './child-index';
import { MemoryRegionError } from './errors';
import { countEventfdRegion, eventfdBefore, eventfdEqual, type RegionEventfd } from './ioeventfd';
import { checkOptions } from '../options';
import { defaultRamList, RAM_BLOCK_OPTIONS, type RamBlock, type RamBlockOptions, type RamList } from './ram-block';
import { hex16, int128ToU64, toAddress, toLength, toPriority, toRegionSize } from './size';
import { SubregionList } from './subregion-list';
import {
  beginTransaction, commitTransaction, currentDamageEpoch, globalDirtyLogActive, markDamage, markIoeventfdUpdate, markPendingWithoutDamage, recordDamage,
} from './transaction';
import { DIRTY_MEMORY_MIGRATION, DIRTY_MEMORY_VGA, type MemoryRegionOps } from './types';

export type RegionKind = 'container' | 'ram' | 'rom' | 'io' | 'romDevice' | 'alias';

export interface RamRegionOptions extends RamBlockOptions {
  /** RAM list to allocate the block in (default: the process-wide one) */
  ramList?: RamList;
}

/**
 * unassigned_mem_ops: what containers, RAM/ROM (for non-direct accesses such
 * as ROM writes), reservations and address-space gaps answer.  Every access
 * is rejected (MEMTX_DECODE_ERROR), reads give 0.
 */
export const UNASSIGNED_MEM_OPS: MemoryRegionOps = Object.freeze({
  read: () => 0,
  write: () => undefined,
  endianness: 'native' as const,
  valid: Object.freeze({ accepts: () => false }),
});

/**
 * unassigned_io_ops: the ops of QEMU's `io` root region.  Reads give all
 * ones, writes are ignored, both succeed (MEMTX_OK).
 */
export const UNASSIGNED_IO_OPS: MemoryRegionOps = Object.freeze({
  read: () => -1,
  write: () => undefined,
  endianness: 'native' as const,
});

let regionSeq = 0;
/** global link counter: a later link wins ties among equal priorities */
let linkSeq = 0;

export class MemoryRegion {
  readonly name: string;
  readonly kind: RegionKind;
  /** unique creation number, handy for debugging and stable ordering */
  readonly id: number;
  /** host memory backed (RAM, ROM); false for ROM devices, as in QEMU */
  readonly isRam: boolean;
  readonly isRomDevice: boolean;
  /** the region itself answers addresses its children do not cover */
  readonly terminates: boolean;
  /** MMIO callbacks (unassigned_mem_ops unless given) */
  readonly ops: MemoryRegionOps;
  /** alias target, or null */
  readonly alias: MemoryRegion | null;

  /** @internal 65-bit size (2^64 allowed) */ _size: bigint;
  /** @internal */ _addr = 0n;
  /** @internal */ _priority = 0;
  /** @internal */ _container: MemoryRegion | null = null;
  /** @internal */ _enabled = true;
  /** @internal */ _readonly = false;
  /** @internal */ _nonvolatile = false;
  /** @internal */ _romdMode = true;
  /** @internal */ _aliasOffset = 0n;
  /** @internal the children, priority descending, newest first among equals */ readonly _subregions: SubregionList = new SubregionList();
  /** @internal */ _ramBlock: RamBlock | null = null;
  /** @internal */ _ramList: RamList | null = null;
  /** @internal VGA logging requested */ _logVga = false;
  /** @internal */ _mappedViaAlias = 0;
  /** @internal */ _closed = false;
  /** @internal link order stamp: the list is (priority desc, _linkSeq desc) */ _linkSeq = 0;
  /** @internal this region's entry in its container's SubregionList */ _listSlot = NaN;
  /** @internal address index of the children, built lazily by renders of narrow clips */ _childIndex: ChildIndex | null = null;
  /**
   * @internal the aliases of this region that can be rendered (in a
   * container, an AS root, or themselves the target of such an alias):
   * where a change inside this region shows up besides its container
   */
  _aliasUsers: Set<MemoryRegion> | null = null;
  /** @internal this alias is in its target's _aliasUsers */ _aliasRegistered = false;
  /** @internal how many address spaces have this region as their root */ _asRootCount = 0;
  /** @internal largest size during damage epoch _sizeEpoch (see _extentSinceRender) */ _sizeHigh = 0n;
  /** @internal */ _sizeEpoch = -1;

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
    mr.attachRamBlock(opts);
    return mr;
  }

  /** memory_region_init_rom: RAM + readonly (writes are dropped with DECODE_ERROR). */
  static rom(name: string, size: bigint | number, opts: RamRegionOptions = {}): MemoryRegion {
    checkName(name);
    const sz = toRegionSize(size);
    const mr = new MemoryRegion('rom', name, sz, null, null);
    mr.attachRamBlock(opts);
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
    mr.attachRamBlock(opts);
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

  private attachRamBlock(opts: RamRegionOptions): void {
    if (this._size === 0n) throw new RangeError(`${this.kind} region "${this.name}" needs a size greater than 0`);
    const { ramList, ...blockOpts } = checkOptions(opts, { ...RAM_BLOCK_OPTIONS, ramList: true }, `MemoryRegion.${this.kind}()`);
    const list = ramList ?? defaultRamList;
    this._ramBlock = list.allocate(this.name, this._size, blockOpts, this);
    this._ramList = list;
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
    const { block, off } = this.resolveRam(offset);
    return block.hostAddress + off;
  }

  /** ram_addr of `offset` inside this region (alias chain followed) */
  ramAddr(offset: bigint | number = 0n): bigint {
    const { block, off } = this.resolveRam(offset);
    return block.offset + off;
  }

  /**
   * Zero-copy view of this region's RAM (alias chain followed).  Defaults to
   * the whole region, clamped to the RAM block's used length.
   */
  bytes(offset: bigint | number = 0n, length?: bigint | number): Uint8Array {
    const { block, off } = this.resolveRam(offset);
    let len: bigint;
    if (length === undefined) {
      const inRegion = this._size - toAddress(offset, 'offset');
      const inBlock = block.usedLength - off;
      len = inRegion < inBlock ? inRegion : inBlock;
      if (len < 0n) len = 0n;
    } else {
      len = toRegionSize(length, 'length');
    }
    return block.bytes(off, len);
  }

  private resolveRam(offset: bigint | number): { block: RamBlock; off: bigint } {
    const { region: mr, offset: off } = aliasTarget(this, toAddress(offset, 'offset'));
    const block = mr._ramBlock;
    if (!block) {
      throw new MemoryRegionError(`region "${this.name}" has no RAM block (it is ${mr.kind === 'alias' ? 'an alias' : 'a ' + mr.kind + ' region'}); only RAM, ROM and ROM devices have host memory`);
    }
    if (off >= block.maxLength) {
      throw new RangeError(`offset 0x${off.toString(16)} is outside RAM block "${block.idstr}" (0x${block.maxLength.toString(16)} bytes)`);
    }
    return { block, off };
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
    if (child._closed) throw closedError(child);
    if (child === this) throw new MemoryRegionError(`cannot add region "${this.name}" to itself`);
    if (child._container !== null) {
      throw new MemoryRegionError(`region "${child.name}" is already a subregion of "${child._container.name}"; remove it first, or map it a second time through an alias (MemoryRegion.alias)`);
    }
    if (reaches(child, this)) {
      throw new MemoryRegionError(`adding "${child.name}" to "${this.name}" would create a cycle ("${this.name}" is reachable from "${child.name}" through subregions or alias targets); QEMU would recurse forever rendering it`);
    }
    beginTransaction();
    try {
      child._addr = a;
      this.linkSubregion(child, p);
    } finally {
      commitTransaction();
    }
  }

  /** memory_region_update_container_subregions: insert per QEMU order, mark pending */
  private linkSubregion(child: MemoryRegion, priority: number): void {
    child._priority = priority;
    child._container = this;
    child._linkSeq = ++linkSeq;
    for (let a = child.alias; a; a = a.alias) a._mappedViaAlias++;
    // the newest stamp puts it before the first sibling whose priority is <= ours
    this._subregions.add(child);
    this._childIndex?.insert(child);
    child._updateAliasLink();
    // the child's extent is where the map can change
    if (this._enabled && child._enabled) markDamage(this, child._addr, child._addr + child._size, false);
  }

  /** memory_region_del_subregion */
  removeSubregion(child: MemoryRegion): void {
    if (!(child instanceof MemoryRegion)) throw new TypeError('removeSubregion: child must be a MemoryRegion');
    if (child._container !== this) {
      throw new MemoryRegionError(child._container
        ? `region "${child.name}" is a subregion of "${child._container.name}", not of "${this.name}"; call removeSubregion on its container`
        : `region "${child.name}" is not a subregion of "${this.name}" (it has no container)`);
    }
    beginTransaction();
    try {
      this.unlinkSubregion(child);
    } finally {
      commitTransaction();
    }
  }

  private unlinkSubregion(child: MemoryRegion): void {
    this._subregions.remove(child);
    this._childIndex?.remove(child);
    child._container = null;
    for (let a = child.alias; a; a = a.alias) a._mappedViaAlias--;
    child._updateAliasLink();
    // Whatever the enabled states are now, the child may have been visible
    // here at the last render (e.g. disabled and removed in one transaction),
    // and it may have been larger then: the damage is the largest extent it
    // had since, which also covers any damage recorded inside the child
    // (that damage can no longer reach the views through this container).
    // Whether to re-render is QEMU's condition.
    const end = child._addr + child._extentSinceRender();
    if (this._enabled && child._enabled) markDamage(this, child._addr, end, false);
    else recordDamage(this, child._addr, end, false);
  }

  /** memory_region_set_enabled (keeps the list position) */
  setEnabled(enabled: boolean): void {
    checkBool(enabled, 'enabled');
    if (enabled === this._enabled) return;
    this.checkOpen();
    beginTransaction();
    try {
      this._enabled = enabled;
      // forced: the window counts although one of the two states renders nothing
      markDamage(this, 0n, this._size, true);
    } finally {
      commitTransaction();
    }
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
    beginTransaction();
    try {
      if (c) {
        const prio = this._priority;
        c.unlinkSubregion(this);
        this._addr = a;
        c.linkSubregion(this, prio);
      } else {
        this._addr = a;
      }
    } finally {
      commitTransaction();
    }
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
      throw new RangeError(`setSize: 0x${s.toString(16)} is larger than the RAM block of "${this.name}" (0x${block.maxLength.toString(16)} bytes); RAM cannot grow past its block`);
    }
    this.setSizeUnchecked(s);
  }

  /** @internal used by RamBlock.resize (qemu_ram_resize) */
  _setSizeFromRamBlock(size: bigint): void {
    this.setSizeUnchecked(toRegionSize(size));
  }

  private setSizeUnchecked(s: bigint): void {
    if (s === this._size) return;
    beginTransaction();
    try {
      const old = this._size;
      const epoch = currentDamageEpoch();
      if (this._sizeEpoch !== epoch) {
        this._sizeEpoch = epoch;
        this._sizeHigh = old;
      }
      if (s > this._sizeHigh) this._sizeHigh = s;
      const c = this._container;
      if (c !== null && c._childIndex !== null) {
        c._childIndex.remove(this);
        this._size = s;
        c._childIndex.insert(this);
      } else {
        this._size = s;
      }
      // forced, over the old and the new extent: the clip of everything inside changed
      markDamage(this, 0n, old > s ? old : s, true);
    } finally {
      commitTransaction();
    }
  }

  // ------------------------------------------------------------ ioeventfds

  private _ioeventfds: RegionEventfd[] = [];

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
    const fd = this.checkEventfd(addr, size, matchData, data, notifier);
    beginTransaction();
    try {
      let i = this._ioeventfds.length;
      while (i > 0 && eventfdBefore(fd, this._ioeventfds[i - 1]!)) i--;
      this._ioeventfds.splice(i, 0, fd);
      if (this._ioeventfds.length === 1) countEventfdRegion(1);
      if (this._enabled) markIoeventfdUpdate();
    } finally {
      commitTransaction();
    }
  }

  /** memory_region_del_eventfd: removes an ioeventfd added with the same arguments (size 0 matches any). */
  delEventfd(addr: bigint | number, size: bigint | number, matchData: boolean, data: bigint | number, notifier: object): void {
    const fd = this.checkEventfd(addr, size, matchData, data, notifier);
    const i = this._ioeventfds.findIndex((e) => eventfdEqual(fd, e));
    if (i < 0) throw new MemoryRegionError(`delEventfd: region "${this.name}" has no ioeventfd at 0x${fd.addr.toString(16)} like that`);
    beginTransaction();
    try {
      this._ioeventfds.splice(i, 1);
      if (this._ioeventfds.length === 0) countEventfdRegion(-1);
      if (this._enabled) markIoeventfdUpdate();
    } finally {
      commitTransaction();
    }
  }

  private checkEventfd(addr: unknown, size: unknown, matchData: unknown, data: unknown, notifier: unknown): RegionEventfd {
    this.checkOpen();
    const a = toAddress(addr, 'ioeventfd address');
    const n = toLength(size, 'ioeventfd size');
    checkBool(matchData, 'matchData');
    if (a + n > this._size) throw new RangeError(`ioeventfd 0x${a.toString(16)}+0x${n.toString(16)} is outside region "${this.name}"`);
    if (typeof notifier !== 'object' || notifier === null) throw new TypeError('notifier must be an object (what the ioeventfd signals)');
    const d = toLength(data, 'ioeventfd data');
    if (d >= 1n << 64n) throw new RangeError('ioeventfd data must fit in 64 bits');
    return { addr: a, size: n, matchData: matchData as boolean, data: d, notifier };
  }

  private setFlag(apply: () => void): void {
    this.checkOpen();
    beginTransaction();
    try {
      apply();
      // flags and the alias offset only change what this region renders, inside its extent
      if (this._enabled) markDamage(this, 0n, this._size, false);
    } finally {
      commitTransaction();
    }
  }

  /**
   * Destroy the region (QEMU finalize): disable it, take it out of its
   * container and drop its children in one transaction, then free its RAM
   * block (host memory is unmapped, views detach).  Aliases that still point
   * here render nothing afterwards.  Idempotent.
   */
  close(): void {
    if (this._closed) return;
    beginTransaction();
    try {
      const wasEnabled = this._enabled;
      this._enabled = false;
      // QEMU always re-renders here; an already disabled region renders nothing to damage
      if (wasEnabled) markDamage(this, 0n, this._size, true);
      else markPendingWithoutDamage();
      if (this._container) this._container.unlinkSubregion(this);
      for (const c of this._subregions.ordered().slice()) this.unlinkSubregion(c);
      if (this._ioeventfds.length) {
        this._ioeventfds = [];
        countEventfdRegion(-1);
        markIoeventfdUpdate();
      }
      this._closed = true;
    } finally {
      commitTransaction();
    }
    if (this._ramBlock && this._ramList) this._ramList.remove(this._ramBlock);
  }

  /**
   * @internal the largest size this region had since the damage recorded so
   * far was last rendered: everything it rendered then, and every damage
   * window recorded inside it since, lies in [0, this)
   */
  _extentSinceRender(): bigint {
    return this._sizeEpoch === currentDamageEpoch() && this._sizeHigh > this._size ? this._sizeHigh : this._size;
  }

  /**
   * @internal keep this alias in its target's _aliasUsers exactly while it
   * can be rendered: in a container, an AS root, or the target of such an
   * alias.  Unused aliases are not referenced from their target, so they
   * can be collected.
   */
  _updateAliasLink(): void {
    updateAliasLinks(this);
  }

  private checkOpen(): void {
    if (this._closed) throw closedError(this);
  }

  toString(): string {
    return `MemoryRegion(${this.kind} "${this.name}" ${hex16(this._addr)}+0x${this._size.toString(16)})`;
  }
}

/**
 * The region an alias chain ends at and `offset` translated into it (a
 * region that is no alias is its own target): the one walk of alias chains.
 */
export function aliasTarget(start: MemoryRegion, offset = 0n): { region: MemoryRegion; offset: bigint } {
  let region = start;
  while (region.alias) {
    offset += region._aliasOffset;
    region = region.alias;
  }
  return { region, offset };
}

/**
 * MemoryRegion._updateAliasLink up an alias of an alias: the target's own
 * liveness may change in turn, up the chain (a loop: alias chains can be
 * longer than the JS stack is deep).
 */
function updateAliasLinks(start: MemoryRegion): void {
  for (let mr = start, t = mr.alias; t !== null; mr = t, t = t.alias) {
    const live = mr._container !== null || mr._asRootCount > 0 || (mr._aliasUsers !== null && mr._aliasUsers.size > 0);
    if (live === mr._aliasRegistered) return;
    mr._aliasRegistered = live;
    if (live) {
      (t._aliasUsers ??= new Set()).add(mr);
    } else {
      t._aliasUsers!.delete(mr);
      if (t._aliasUsers!.size === 0) t._aliasUsers = null;
    }
  }
}

function closedError(mr: MemoryRegion): MemoryRegionError {
  return new MemoryRegionError(`region "${mr.name}" has been closed; create a new region instead`);
}

function checkName(name: unknown): void {
  if (typeof name !== 'string') throw new TypeError(`region name must be a string, got ${typeof name}`);
}

function checkBool(v: unknown, what: string): void {
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean, got ${typeof v}`);
}

function checkAccess(c: unknown, what: string): void {
  if (c === undefined) return;
  if (typeof c !== 'object' || c === null) throw new TypeError(`ops.${what} must be an object`);
  const o = c as Record<string, unknown>;
  for (const k of ['minAccessSize', 'maxAccessSize']) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number') throw new TypeError(`ops.${what}.${k} must be a number`);
    if (![0, 1, 2, 4, 8].includes(v)) throw new RangeError(`ops.${what}.${k} must be 0, 1, 2, 4 or 8, got ${v}`);
  }
}

function checkOps(ops: MemoryRegionOps): void {
  if (typeof ops !== 'object') throw new TypeError('ops must be an object { read(offset, size), write(offset, value, size) }');
  if (ops.read !== undefined && typeof ops.read !== 'function') throw new TypeError('ops.read must be a function');
  if (ops.write !== undefined && typeof ops.write !== 'function') throw new TypeError('ops.write must be a function');
  if (ops.endianness !== undefined && !['little', 'big', 'native', 'host'].includes(ops.endianness)) {
    throw new RangeError(`ops.endianness must be 'little', 'big', 'native' or 'host', got ${String(ops.endianness)}`);
  }
  checkAccess(ops.valid, 'valid');
  checkAccess(ops.impl, 'impl');
  if (ops.impl?.unaligned && !ops.valid?.unaligned) {
    // QEMU asserts !(impl.unaligned && !valid.unaligned) in memory_region_init_io
    throw new RangeError('ops.impl.unaligned requires ops.valid.unaligned');
  }
}

/** Is `target` reachable from `from` through subregions or alias targets? */
function reaches(from: MemoryRegion, target: MemoryRegion): boolean {
  if (from._subregions.length === 0 && from.alias === null) return false;
  const seen = new Set<MemoryRegion>();
  const stack: MemoryRegion[] = [from];
  while (stack.length) {
    const mr = stack.pop()!;
    if (mr === target) return true;
    if (seen.has(mr)) continue;
    seen.add(mr);
    if (mr.alias) stack.push(mr.alias);
    for (const c of mr._subregions.ordered()) stack.push(c);
  }
  return false;
}
