// A VM's KVM memory slots, across its address spaces (QEMU's KVMState with
// its KVMMemoryListener per address space): which AddressSpace feeds which
// KVM address space id, the dirty log shared by all of them, and the
// guest-RAM budget that counts every slot of the VM.  The Vm delegates its
// memory API here and stays the VM handle.
import type { NativeVm } from '../binding';
import { KvmError } from '../errors';
import type { AddressSpace } from '../memory/address-space';
import { PAGE_SIZE } from '../memory/ram-block';
import type { MemoryRegion } from '../memory/region';
import { errno } from '../util/errno';
import { DirtyTracker } from './dirty-log';
import { checkSlotFlagConstants, compareAddresses, type KvmSlot } from './kvm-slot';
import { KvmMemoryListener, type KvmMemoryListenerOptions, type ListenerHost } from './memory-listener';
import type { TrappedRange } from './trapped-ranges';

/** What the slots need from the VM handle. */
export interface SlotsVm {
  readonly native: NativeVm;
  checkExtension(cap: string): number;
  /** see Vm.holdVcpus */
  holdVcpus(): () => void;
  /** the guest's physical-address width KVM offers, in bits */
  readonly physBits: number;
}

export class MemorySlots implements ListenerHost {
  /** one per registered address space */
  private readonly listeners: KvmMemoryListener[] = [];
  readonly dirty = new DirtyTracker();

  constructor(private readonly vm: SlotsVm) {}

  get native(): NativeVm {
    return this.vm.native;
  }

  holdVcpus(): () => void {
    return this.vm.holdVcpus();
  }

  checkExtension(cap: string): number {
    return this.vm.checkExtension(cap);
  }

  guestPhysBits(): number {
    return this.vm.physBits;
  }

  slotBytes(): bigint {
    let n = 0n;
    for (const l of this.listeners) n += l.slotBytes;
    return n;
  }

  /** see Vm.addAddressSpace */
  add(as: AddressSpace, opts: KvmMemoryListenerOptions): KvmMemoryListener {
    if (this.vm.native.closed) throw new KvmError('KVM_SET_USER_MEMORY_REGION', errno('EBADF'), 'the VM is closed');
    if (typeof as !== 'object' || as === null || typeof (as as AddressSpace).addListener !== 'function') {
      throw new TypeError('addAddressSpace expects an AddressSpace');
    }
    checkSlotFlagConstants();
    const asId = opts?.asId ?? 0;
    if (this.listeners.some((l) => l.addressSpace === as)) throw new RangeError(`address space "${as.name}" is already registered with this VM`);
    const sameId = this.listeners.find((l) => l.asId === asId);
    if (sameId !== undefined) throw new RangeError(`KVM address space id ${asId} already has a listener (address space "${sameId.addressSpace.name}")`);
    const listener = new KvmMemoryListener(this, as, opts);
    // Attached completely or not at all.  The replay (begin, regionAdd per
    // range, commit) creates the slots; ranges KVM cannot take are trapped,
    // not errors.  What does fail (table full, the memory limit, an ioctl) is
    // kept by the listener until here, then its slots are deleted again.
    this.listeners.push(listener);
    try {
      as.addListener(listener);
    } catch (e) {
      this.forget(listener);
      throw e;
    }
    const err = listener._endAttach();
    if (err !== null) {
      this.forget(listener);
      as.removeListener(listener);
      throw err;
    }
    return listener;
  }

  /** see Vm.removeAddressSpace */
  remove(as: AddressSpace): void {
    const l = this.listeners.find((x) => x.addressSpace === as);
    if (l === undefined) throw new RangeError(`address space "${as?.name}" is not registered with this VM`);
    this.forget(l);
    as.removeListener(l);
  }

  get memoryListeners(): readonly KvmMemoryListener[] {
    return this.listeners;
  }

  /** Every live slot, ascending (asId, guest address). */
  slots(): KvmSlot[] {
    return this.listeners.flatMap((l) => l.slots())
      .sort((a, b) => a.asId - b.asId || compareAddresses(a.guestPhysAddr, b.guestPhysAddr));
  }

  /** Every trapped range, ascending (asId, guest address). */
  trapped(): TrappedRange[] {
    return this.listeners.flatMap((l) => l.trapped()).sort((a, b) => a.asId - b.asId || compareAddresses(a.start, b.start));
  }

  /** see Vm.getDirtyPageIndices */
  dirtyPageIndices(region: MemoryRegion): number[] {
    const block = region?.ramBlock;
    if (block === null || block === undefined) {
      throw new TypeError(`getDirtyPages: region ${region?.name ?? String(region)} has no RAM (only RAM, ROM and ROM device regions can be dirty-logged)`);
    }
    for (const l of this.listeners) l.syncDirtyLog(block);
    return this.dirty.takePages(block, Number((region.size + PAGE_SIZE - 1n) / PAGE_SIZE));
  }

  /** The VM is closing: the kernel drops the slots with it, so every listener detaches without ioctls. */
  detachAll(): void {
    for (const l of this.listeners.splice(0)) {
      l._detach();
      try {
        l.addressSpace.removeListener(l);
      } catch {
        // the address space was destroyed already
      }
    }
  }

  private forget(l: KvmMemoryListener): void {
    this.listeners.splice(this.listeners.indexOf(l), 1);
  }
}
