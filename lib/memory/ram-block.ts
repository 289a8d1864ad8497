/**
 * RAM blocks and the RAM list (QEMU softmmu/physmem.c RAMBlock / ram_list).
 *
 * Every RAM, ROM and ROM-device region owns a RamBlock, which owns the host
 * memory (from the native addon) of `maxLength` bytes.  A block also has a
 * position in the "ram_addr" space chosen by QEMU's find_ram_offset(); KVM
 * dirty bitmaps and migration are indexed by that.
 *
 * Host-write dirty tracking: KVM only logs *guest* writes.  Writes the host
 * makes through AddressSpace.write()/rw() set bits in the block's hostDirty
 * bitmap (one bit per 4 KiB page of maxLength, bit i = byte i>>3, mask
 * 1 << (i & 7)).  takeHostDirty() returns the bitmap and clears it;
 * snapshot / dirty-log code ORs it with what KVM reports.  Writes through
 * `bytes()` views are NOT tracked (zero-copy means the model never sees them);
 * call markHostDirty() yourself if you write through a view.
 */
import { allocateHostMemory, type HostMemory, MAX_VIEW } from '../host-memory';

import { checkGuestMemory } from '../host-limits';
import { RamBlockError } from './errors';
import type { MemoryRegion } from './region';
import { checkOptions, type OptionKeys } from '../options';
import { toLength, UINT64_MAX } from './size';
import { WeakList } from './weak-list';
import { hex } from '../util/hex';

/** dispatch's views of a block larger than MAX_VIEW start every DISPATCH_WINDOW bytes */
const DISPATCH_WINDOW = Number(MAX_VIEW / 2n);

export const RAM_PREALLOC = 1;
export const RAM_SHARED = 2;
export const RAM_RESIZEABLE = 4;
export const RAM_NORESERVE = 128;

/** TARGET_PAGE_SIZE and the host page size on x86-64 */
export const PAGE_SIZE = 4096n;
/** find_ram_offset aligns candidates to BITS_PER_LONG << TARGET_PAGE_BITS = 256 KiB */
export const RAM_OFFSET_ALIGN = 64n * PAGE_SIZE;
/** RAM_ADDR_MAX (ram_addr_t is 64-bit) */
export const RAM_ADDR_MAX = UINT64_MAX;

function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

export interface RamBlockOptions {
  /** maximum size for a resizable block (qemu_ram_alloc_resizeable) */
  maxSize?: bigint | number;
  /** called after the used size changed: (idstr, newSize) */
  resized?: (idstr: string, newSize: bigint) => void;
  /** RAM_SHARED: back the block with a memfd (MAP_SHARED) */
  shared?: boolean;
  /**
   * Use this host memory instead of allocating (qemu_ram_alloc_from_ptr,
   * RAM_PREALLOC).  It is not closed when the block is freed.
   */
  hostMemory?: HostMemory;
}

/** @internal the keys of RamBlockOptions, for the option checks here and in MemoryRegion.ram() */
export const RAM_BLOCK_OPTIONS = { maxSize: true, resized: true, shared: true, hostMemory: true } as const satisfies OptionKeys<RamBlockOptions>;

export class RamBlock {
  /** ram_addr of byte 0 (find_ram_offset) */
  offset = 0n;
  /** page-aligned size that is valid / migrated */
  usedLength: bigint;
  /** page-aligned size of the host memory */
  readonly maxLength: bigint;
  readonly flags: number;
  readonly pageSize = PAGE_SIZE;
  /** set once removed from its list */
  freed = false;
  private readonly resizedCb?: (idstr: string, newSize: bigint) => void;
  private readonly ownsHost: boolean;
  private hostMem: HostMemory | null;
  /** one Uint8Array over the whole host memory, reused by the dispatch fast path */
  /** dispatch's views of the block, one per WINDOW bytes (one for blocks up to 4 GiB) */
  private windows: Uint8Array[] = [];
  private hostDirty: Uint8Array;

  constructor(
    /** QEMU's idstr (here: the region name) */
    readonly idstr: string,
    /** the owning region (null for a bare block) */
    readonly mr: MemoryRegion | null,
    size: bigint,
    maxSize: bigint,
    flags: number,
    host: HostMemory,
    ownsHost: boolean,
    resized?: (idstr: string, newSize: bigint) => void,
  ) {
    this.usedLength = size;
    this.maxLength = maxSize;
    this.flags = flags;
    this.hostMem = host;
    this.ownsHost = ownsHost;
    this.resizedCb = resized;
    const pages = Number(maxSize / PAGE_SIZE);
    // Whole 64-bit words (like KVM's bitmaps), so dirty-log code can scan it by word.
    this.hostDirty = new Uint8Array(Math.ceil(pages / 64) * 8);
    this.hostDirtyBytes = Math.ceil(pages / 8); // what takeHostDirty() returns
  }

  get host(): HostMemory {
    if (!this.hostMem || this.freed) throw new RamBlockError(`RAM block "${this.idstr}" has been freed; its memory is gone`);
    return this.hostMem;
  }

  /** userspace address of byte 0 (KVM_SET_USER_MEMORY_REGION userspace_addr) */
  get hostAddress(): bigint {
    return this.host.hostAddress;
  }

  get resizable(): boolean {
    return (this.flags & RAM_RESIZEABLE) !== 0;
  }

  /** Zero-copy view of the block (default: the used part). */
  bytes(offset: bigint | number = 0n, length?: bigint | number): Uint8Array {
    const off = toLength(offset, 'offset');
    const len = length === undefined ? (off <= this.usedLength ? this.usedLength - off : 0n) : toLength(length, 'length');
    if (off + len > this.maxLength) {
      throw new RangeError(`range ${hex(off)}+${hex(len)} is outside RAM block "${this.idstr}" (${hex(this.maxLength)} bytes)`);
    }
    return this.host.bytes(off, len);
  }

  /**
   * @internal dispatch's cached view of the block around `offset`, and the
   * block offset of its byte 0. A block of up to 4 GiB (Node's limit for one
   * view) is one view; a larger one is seen through views of up to 4 GiB that
   * start every 2 GiB, so an access of up to 2 GiB from `offset` lies inside.
   */
  _window(offset: number): { view: Uint8Array; base: number } {
    const whole = this.maxLength <= MAX_VIEW;
    const index = whole ? 0 : Math.floor(offset / DISPATCH_WINDOW);
    let view = this.windows[index];
    if (view === undefined || view.byteLength === 0) {
      const base = BigInt(index * DISPATCH_WINDOW);
      const span = whole ? this.maxLength : (this.maxLength - base < MAX_VIEW ? this.maxLength - base : MAX_VIEW);
      view = this.host.bytes(base, span);
      this.windows[index] = view;
    }
    return { view, base: index * DISPATCH_WINDOW };
  }

  /** Mark [offset, offset+length) as written by the host. */
  markHostDirty(offset: bigint | number, length: bigint | number): void {
    const o = Number(offset);
    const l = Number(length);
    if (l <= 0) return;
    const first = Math.floor(o / 4096);
    const last = Math.min(Math.floor((o + l - 1) / 4096), this.hostDirtyBytes * 8 - 1);
    for (let p = first; p <= last; p++) this.hostDirty[p >> 3] |= 1 << (p & 7);
  }

  /** Is the page containing `offset` host-dirty? */
  isHostDirty(offset: bigint | number): boolean {
    const p = Math.floor(Number(offset) / 4096);
    return (this.hostDirty[p >> 3] & (1 << (p & 7))) !== 0;
  }

  /**
   * Return the host-dirty bitmap (1 bit per 4 KiB page of maxLength) and clear
   * it.  The returned array is a copy owned by the caller.
   */
  takeHostDirty(): Uint8Array {
    const out = this.hostDirty.slice(0, this.hostDirtyBytes);
    this.hostDirty.fill(0);
    return out;
  }

  /**
   * The host-dirty bitmap itself as 32-bit words (bit i of word w = page
   * 32w + i), for dirty-log code that drains it in place without copying.
   */
  hostDirtyWords(): Uint32Array {
    this.hostDirtyWordView ??= new Uint32Array(this.hostDirty.buffer, this.hostDirty.byteOffset, this.hostDirty.byteLength >> 2);
    return this.hostDirtyWordView;
  }

  private hostDirtyWordView: Uint32Array | undefined;
  private readonly hostDirtyBytes: number;

  /**
   * qemu_ram_resize(): change the used size of a block.  The region's size
   * follows (unaligned), which re-renders the memory map.
   */
  resize(newSize: bigint | number): void {
    const size = toLength(newSize, 'newSize');
    if (this.freed) throw new RamBlockError(`RAM block "${this.idstr}" has been freed`);
    const aligned = alignUp(size, PAGE_SIZE);
    if (aligned === this.usedLength) {
      // Same page count: only the region size may change (QEMU 7.2 §7.6 step 2).
      if (this.mr && this.mr.size !== size) {
        this.mr._setSizeFromRamBlock(size);
        this.resizedCb?.(this.idstr, size);
      }
      return;
    }
    if (!this.resizable) {
      throw new RamBlockError(`Size mismatch: ${this.idstr}: ${hex(aligned)} != ${hex(this.usedLength)} (the block is not resizable; create it with a maxSize)`);
    }
    if (aligned > this.maxLength) {
      throw new RamBlockError(`Size too large: ${this.idstr}: ${hex(aligned)} > ${hex(this.maxLength)}`);
    }
    if (size === 0n) throw new RangeError('a RAM block cannot be resized to 0 bytes');
    this.usedLength = aligned;
    if (this.mr) this.mr._setSizeFromRamBlock(size);
    this.resizedCb?.(this.idstr, size);
  }

  /** @internal called by RamList.remove */
  _free(): void {
    if (this.freed) return;
    this.freed = true;
    this.windows = [];
    if (this.ownsHost && this.hostMem && !this.hostMem.closed) this.hostMem.close();
    this.hostMem = null;
  }
}

/**
 * QEMU's ram_list: blocks sorted by maxLength descending (a new block goes
 * after existing blocks of the same size), each at a ram_addr chosen by
 * find_ram_offset().
 *
 * The list does not keep its blocks alive (the default list is process-wide):
 * a block whose region the program dropped without close() is collected, its
 * host memory is unmapped by the addon's finalizer, and its ram_addr range
 * becomes free, as if it had been removed.
 */
export class RamList {
  private readonly list = new WeakList<RamBlock>();
  private mru: WeakRef<RamBlock> | null = null;
  /** bumped on every add/remove (ram_list.version) */
  version = 0;

  get blocks(): readonly RamBlock[] {
    return this.list.live();
  }

  /**
   * find_ram_offset(): best fit among the 256 KiB-aligned ends of existing
   * blocks; the very first block goes at 0, and the space before the lowest
   * block is never reused.
   */
  findRamOffset(size: bigint | number): bigint {
    const sz = toLength(size, 'size');
    if (sz === 0n) throw new RangeError('find_ram_offset: size must not be 0');
    const blocks = this.list.live();
    if (blocks.length === 0) return 0n;
    let best: bigint | null = null;
    let mingap = RAM_ADDR_MAX;
    for (const b of blocks) {
      const cand = alignUp(b.offset + b.maxLength, RAM_OFFSET_ALIGN);
      let next = RAM_ADDR_MAX;
      for (const n of blocks) {
        if (n.offset >= cand && n.offset < next) next = n.offset;
      }
      const gap = next - cand;
      if (next >= cand && gap >= sz && gap < mingap) {
        best = cand;
        mingap = gap;
      }
    }
    if (best === null) {
      throw new RamBlockError(`Failed to find gap of requested size: ${sz}`);
    }
    return best;
  }

  /**
   * Allocate a block (qemu_ram_alloc / _resizeable / _from_ptr + ram_block_add).
   * size and maxSize are rounded up to the host page.
   */
  allocate(idstr: string, size: bigint | number, options?: RamBlockOptions, mr: MemoryRegion | null = null): RamBlock {
    const opts = checkOptions(options, RAM_BLOCK_OPTIONS, 'RamList.allocate()');
    const sz = toLength(size, 'size');
    if (sz === 0n) throw new RangeError(`RAM block "${idstr}": size must be greater than 0`);
    const used = alignUp(sz, PAGE_SIZE);
    let max = used;
    let flags = 0;
    if (opts.maxSize !== undefined) {
      max = alignUp(toLength(opts.maxSize, 'maxSize'), PAGE_SIZE);
      if (max < used) throw new RangeError(`RAM block "${idstr}": maxSize ${hex(max)} is smaller than size ${hex(used)}`);
      flags |= RAM_RESIZEABLE;
    }
    if (opts.shared) flags |= RAM_SHARED;
    const offset = this.findRamOffset(max);
    let host: HostMemory;
    let owns = true;
    if (opts.hostMemory) {
      if (opts.hostMemory.closed) throw new RamBlockError(`RAM block "${idstr}": the given host memory is closed`);
      if (opts.hostMemory.size < max) {
        throw new RangeError(`RAM block "${idstr}": host memory (${hex(opts.hostMemory.size)} bytes) is smaller than ${hex(max)}`);
      }
      host = opts.hostMemory;
      owns = false;
      flags |= RAM_PREALLOC;
    } else {
      // refused before anything is allocated or recorded (lib/host-limits.ts)
      checkGuestMemory(`RAM block "${idstr}"`, max);
      // (host-memory turns a name into a memfd, so only shared blocks pass one.) Huge
      // pages and no copy into forked children, as QEMU's ram_block_add asks for every
      // block: a `madvise` THP host backs guest RAM with 2 MiB pages then (fewer faults
      // and TLB misses for the guest), and Node's child_process spawns leave it alone.
      const advice = { hugePages: true, dontFork: true };
      host = allocateHostMemory(max, opts.shared ? { name: idstr, memfd: true, ...advice } : advice);
    }
    const block = new RamBlock(idstr, mr, used, max, flags, host, owns, opts.resized);
    block.offset = offset;
    // sorted by max_length descending; equal sizes keep creation order
    const blocks = this.list.live();
    let i = 0;
    while (i < blocks.length && blocks[i].maxLength >= max) i++;
    this.list.insertAt(i, block);
    this.mru = null;
    this.version++;
    return block;
  }

  /** Remove a block and free its host memory (qemu_ram_free). */
  remove(block: RamBlock): void {
    if (!this.list.remove(block)) return;
    if (this.mru?.deref() === block) this.mru = null;
    this.version++;
    block._free();
  }

  /** ram_addr -> block (qemu_get_ram_block); throws "Bad ram offset" on a miss. */
  blockForRamAddr(addr: bigint): RamBlock {
    const m = this.mru?.deref();
    if (m && addr >= m.offset && addr - m.offset < m.maxLength) return m;
    for (const b of this.list.live()) {
      if (addr >= b.offset && addr - b.offset < b.maxLength) {
        this.mru = new WeakRef(b);
        return b;
      }
    }
    throw new RamBlockError(`Bad ram offset ${addr.toString(16)}`);
  }

  /** host userspace address -> { block, offset } (qemu_ram_block_from_host), or null */
  blockFromHost(hostAddr: bigint): { block: RamBlock; offset: bigint } | null {
    for (const b of this.list.live()) {
      const h = b.hostAddress;
      if (hostAddr >= h && hostAddr - h < b.maxLength) return { block: b, offset: hostAddr - h };
    }
    return null;
  }
}

/** The process-wide RAM list regions use unless given another one. */
export const defaultRamList = new RamList();
