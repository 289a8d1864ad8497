// One KVM address space's slot table (QEMU's KVMMemoryListener slots[] of
// KVMSlot): which slot id holds which chunk, exactly as the kernel has it,
// and the KVM_SET_USER_MEMORY_REGION / KVM_GET_DIRTY_LOG calls that change
// or read it.  An entry changes only after its ioctl succeeded.
import type { NativeVm } from '../binding';
import { KvmError, translateNativeError } from '../errors';
import type { RamBlock } from '../memory/ram-block';
import { hex } from '../util/hex';
import { DIRTY_PAGE_SHIFT, type DirtyTracker, kvmBitmapBytes } from './dirty-log';
import { compareAddresses, KVM_MEM_LOG_DIRTY_PAGES, type KvmSlot, slotField } from './kvm-slot';
import type { Chunk } from './slot-chunks';
import { traceSetUserMemory, type TraceSink } from './slot-trace';

/** A chunk that has a slot. */
export interface SlotEntry extends Chunk {
  id: number;
  /** KVM_GET_DIRTY_LOG's bitmap for this slot (and a word view of it), made once: restores read it every time */
  dirtyScratch?: { bytes: Uint8Array; words: Uint32Array; pages: number };
}

export class KvmSlotTable {
  private readonly byId: (SlotEntry | undefined)[] = [];
  private readonly byKey = new Map<string, SlotEntry>();
  /** no free id below this one */
  private lowestFree = 0;
  private liveBytes = 0n;
  /** KVM_SET_USER_MEMORY_REGION calls so far (for benchmarks and tests) */
  ioctlCount = 0;

  constructor(
    private readonly native: NativeVm,
    private readonly dirty: DirtyTracker,
    readonly asId: number,
    /** slot ids 0 .. nrSlots-1 are used */
    readonly nrSlots: number,
    private readonly trace: TraceSink | null,
  ) {}

  get(key: string): SlotEntry | undefined {
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Bytes in the live slots. */
  get bytes(): bigint {
    return this.liveBytes;
  }

  /** The live slots, ascending guest address. */
  slots(): KvmSlot[] {
    const out: KvmSlot[] = [];
    for (const e of this.byKey.values()) {
      out.push({ slot: e.id, asId: this.asId, flags: e.flags, guestPhysAddr: e.gpa, memorySize: e.size, userspaceAddr: e.ua });
    }
    return out.sort((a, b) => compareAddresses(a.guestPhysAddr, b.guestPhysAddr));
  }

  /** A new slot for `c`; false when every id is in use.  Throws the ioctl's error (nothing changed then). */
  add(c: Chunk): boolean {
    const id = this.allocId();
    if (id < 0) return false;
    try {
      this.setUserMemoryRegion(id, c.flags, c.gpa, c.size, c.ua);
    } catch (err) {
      if (id < this.lowestFree) this.lowestFree = id;
      throw err;
    }
    const e: SlotEntry = { ...c, id };
    this.byId[id] = e;
    this.byKey.set(c.key, e);
    this.liveBytes += c.size;
    return true;
  }

  /**
   * Deletes the slot (size 0), after collecting its dirty bits as QEMU does
   * (best effort).  On failure the kernel still has the slot, so the entry
   * stays and the error is thrown.
   */
  delete(e: SlotEntry): void {
    this.syncDirtyBestEffort(e);
    this.setUserMemoryRegion(e.id, 0, e.gpa, 0n, e.ua);
    this.byKey.delete(e.key);
    this.byId[e.id] = undefined;
    this.liveBytes -= e.size;
    if (e.id < this.lowestFree) this.lowestFree = e.id;
  }

  /** A flags-only change (dirty logging on or off); what was logged is kept when logging stops. */
  setFlags(e: SlotEntry, flags: number): void {
    if ((flags & KVM_MEM_LOG_DIRTY_PAGES) === 0) this.syncDirtyBestEffort(e);
    this.setUserMemoryRegion(e.id, flags, e.gpa, e.size, e.ua);
    e.flags = flags;
  }

  /** Pull KVM_GET_DIRTY_LOG for every logging slot backed by `block` into the VM's tracker. */
  syncDirtyLog(block: RamBlock): void {
    for (const e of this.byKey.values()) {
      if (e.block === block) this.syncDirty(e);
    }
  }

  /** Forget every slot without ioctls (the kernel drops them with the VM). */
  clear(): void {
    this.byKey.clear();
    this.byId.length = 0;
    this.lowestFree = 0;
    this.liveBytes = 0n;
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

  private setUserMemoryRegion(id: number, flags: number, gpa: bigint, size: bigint, ua: bigint): void {
    const slot = slotField(id, this.asId);
    this.ioctlCount++;
    try {
      this.native.setUserMemoryRegion(slot, flags, gpa, size, ua);
    } catch (err) {
      const e = translateNativeError(err, `slot ${slot} gpa=${hex(gpa)} size=${hex(size)} ua=${hex(ua)}`);
      if (this.trace) traceSetUserMemory(this.trace, slot, flags, gpa, size, ua, e instanceof KvmError ? -e.errno : -1);
      throw e;
    }
    if (this.trace) traceSetUserMemory(this.trace, slot, flags, gpa, size, ua, 0);
  }

  private syncDirty(e: SlotEntry): void {
    if ((e.flags & KVM_MEM_LOG_DIRTY_PAGES) === 0) return;
    if (e.dirtyScratch === undefined) {
      const bytes = new Uint8Array(kvmBitmapBytes(e.size));
      e.dirtyScratch = { bytes, words: new Uint32Array(bytes.buffer), pages: Number(e.size >> DIRTY_PAGE_SHIFT) };
    }
    const scratch = e.dirtyScratch;
    this.native.getDirtyLog(slotField(e.id, this.asId), scratch.bytes);
    this.dirty.addSlotBitmap(e.block, e.blockPage, scratch.words, scratch.pages);
  }

  private syncDirtyBestEffort(e: SlotEntry): void {
    try {
      this.syncDirty(e);
    } catch {
      // as in QEMU: a slot whose log cannot be read is still deleted or changed
    }
  }
}
