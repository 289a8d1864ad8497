// A virtual machine: memory slots and vCPUs.
import { ioctlNumber, kvmConstant, NativeVm } from '../binding';
import { PAGE_SIZE } from '../memory/ram-block';
import { callNative, KvmError } from '../errors';
import { toAddress, toLength, TWO_64 } from '../memory/size';
import { Vcpu } from './vcpu';
import type { AddressSpace } from '../memory/address-space';
import type { MemoryRegion } from '../memory/region';
import { DirtyTracker } from './dirty-log';
import { threadOf, type VcpuThread } from './vcpu-thread';
import { checkSlotFlagConstants, KvmMemoryListener, type KvmMemoryListenerOptions, type KvmSlot, type TrappedRange } from './memory-listener';
import { checkGuestMemory } from '../host-limits';
import { toUint } from '../util/integers';
import { IrqLevelBuffer, irqchipBuffer, type IrqchipId, irqchipState, type IrqchipState, pit2Buffer, pit2State, type Pit2State, pitConfig } from './irqchip-state';

/** The raw KVM_SET_USER_MEMORY_REGION arguments. */
export interface UserMemoryRegion {
  slot: number;
  flags?: number;
  guestPhysAddr: bigint | number;
  /** 0 deletes the slot. */
  memorySize: bigint | number;
  /** Must lie inside memory from allocateHostMemory(). */
  userspaceAddr: bigint | number;
}


function u32(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`${what} must be an integer in [0, 2^32), got ${String(value)}`);
  }
  return value;
}

function pageAligned(value: bigint, what: string): bigint {
  if (value % PAGE_SIZE !== 0n) throw new RangeError(`${what} 0x${value.toString(16)} is not 4 KiB aligned`);
  return value;
}

export class Vm {
  private readonly vcpus = new Set<Vcpu>();
  private syncRegs: boolean | undefined;
  /** KVM memory listeners, one per registered address space */
  private readonly listeners: KvmMemoryListener[] = [];
  private readonly dirty = new DirtyTracker();
  /** @internal created by Kvm.createVm(); `physBits`: the guest's physical-address width KVM offers */
  constructor(private readonly handle: NativeVm, private readonly physBits: number) {}

  get closed(): boolean {
    return this.handle.closed;
  }

  /** The raw native handle, for the memory listener and advanced ioctls. */
  get native(): NativeVm {
    return this.handle;
  }

  /** KVM_CHECK_EXTENSION on the VM (capabilities may differ per VM). */
  checkExtension(cap: number | string): number {
    const n = typeof cap === 'string' ? kvmConstant(cap.startsWith('KVM_CAP_') ? cap : `KVM_CAP_${cap}`) : cap;
    return callNative(() => this.handle.ioctl(ioctlNumber('KVM_CHECK_EXTENSION'), u32(n, 'cap')));
  }

  /** Issues a whitelisted VM ioctl by name (see native/ioctl.cc). */
  ioctl(name: string, arg?: number | bigint | Uint8Array): number {
    const request = ioctlNumber(name);
    return callNative(() => this.handle.ioctl(request, arg));
  }

  /**
   * The raw ioctl: maps `memorySize` bytes at `userspaceAddr` into the guest at
   * `guestPhysAddr` (size 0 deletes the slot). Arguments are validated first so
   * a bad call changes nothing.
   */
  setUserMemoryRegion(region: UserMemoryRegion): void {
    if (typeof region !== 'object' || region === null) throw new TypeError('setUserMemoryRegion expects an object');
    const slot = u32(region.slot, 'slot');
    const flags = u32(region.flags ?? 0, 'flags');
    const known = kvmConstant('KVM_MEM_LOG_DIRTY_PAGES') | kvmConstant('KVM_MEM_READONLY');
    if ((flags & ~known) !== 0) throw new RangeError(`flags 0x${flags.toString(16)} has bits KVM does not know`);
    const gpa = pageAligned(toAddress(region.guestPhysAddr, 'guestPhysAddr'), 'guestPhysAddr');
    const size = pageAligned(toLength(region.memorySize, 'memorySize'), 'memorySize');
    const ua = pageAligned(toAddress(region.userspaceAddr, 'userspaceAddr'), 'userspaceAddr');
    if (gpa + size > TWO_64) throw new RangeError('guestPhysAddr + memorySize is beyond 2^64');
    if (size > 0n && gpa + size > 1n << BigInt(this.physBits)) {
      // (the kernel answers EINVAL only from its own, host-dependent bound, with advice about alignment)
      throw new RangeError(
        `slot ${slot}: guestPhysAddr 0x${gpa.toString(16)} + memorySize 0x${size.toString(16)} ends above 2^${this.physBits}, the guest's ` +
        'physical-address width (CPUID 0x80000008 EAX[7:0] of KVM_GET_SUPPORTED_CPUID): no guest access can reach it. ' +
        'This is the guest\'s address width, not a lack of host memory: place the slot below ' +
        `0x${(1n << BigInt(this.physBits)).toString(16)}`,
      );
    }
    // one slot's kernel cost is proportional to its size (the listener checks the VM's total)
    checkGuestMemory(`slot ${slot}`, size);
    callNative(
      () => this.handle.setUserMemoryRegion(slot, flags, gpa, size, ua),
      `slot ${slot} gpa=0x${gpa.toString(16)} size=0x${size.toString(16)}`,
    );
  }

  /** KVM_GET_DIRTY_LOG for a slot: one bit per 4 KiB page, little-endian u64 words. */
  getDirtyLog(slot: number, bitmap: Uint8Array): void {
    callNative(() => this.handle.getDirtyLog(u32(slot, 'slot'), bitmap));
  }

  createVcpu(id = 0): Vcpu {
    const vcpuId = u32(id, 'id');
    const handle = callNative(() => this.handle.createVcpu(vcpuId), `vCPU ${vcpuId}`);
    this.syncRegs ??= (this.checkExtension('KVM_CAP_SYNC_REGS') & kvmConstant('KVM_SYNC_X86_REGS')) !== 0;
    const vcpu = new Vcpu(handle, vcpuId, (v) => this.vcpus.delete(v), this.syncRegs);
    this.vcpus.add(vcpu);
    return vcpu;
  }

  // ------------------------------------------------------------ memory listener

  /**
   * Register a KVM memory listener on `as`: every RAM-backed section of its
   * flat view (RAM, ROM, ROM device in romd mode) becomes page-aligned KVM
   * slots, now (replay) and after every committed transaction.
   */
  addAddressSpace(as: AddressSpace, opts: KvmMemoryListenerOptions = {}): KvmMemoryListener {
    if (this.handle.closed) throw new KvmError('KVM_SET_USER_MEMORY_REGION', 9 /* EBADF */, 'the VM is closed');
    if (typeof as !== 'object' || as === null || typeof (as as AddressSpace).addListener !== 'function') {
      throw new TypeError('addAddressSpace expects an AddressSpace');
    }
    checkSlotFlagConstants();
    const asId = opts?.asId ?? 0;
    if (this.listeners.some((l) => l.addressSpace === as)) throw new RangeError(`address space "${as.name}" is already registered with this VM`);
    if (this.listeners.some((l) => l.asId === asId)) throw new RangeError(`KVM address space id ${asId} already has a listener (address space "${this.listeners.find((l) => l.asId === asId)!.addressSpace.name}")`);
    const vm = this;
    const listener = new KvmMemoryListener({
      native: this.handle,
      dirty: this.dirty,
      holdVcpus: () => vm.holdVcpus(),
      checkExtension: (cap: string) => vm.checkExtension(cap),
      guestPhysBits: () => vm.physBits,
      slotBytes: () => vm.listeners.reduce((n, l) => n + l.slotBytes, 0n),
    }, as, opts);
    // Attached completely or not at all.  The replay (begin, regionAdd per
    // range, commit) creates the slots; ranges KVM cannot take are trapped,
    // not errors.  What does fail (table full, the memory limit, an ioctl) is
    // kept by the listener until here, then its slots are deleted again.
    this.listeners.push(listener);
    try {
      as.addListener(listener);
    } catch (e) {
      this.listeners.splice(this.listeners.indexOf(listener), 1);
      throw e;
    }
    const err = listener._endAttach();
    if (err !== null) {
      this.listeners.splice(this.listeners.indexOf(listener), 1);
      as.removeListener(listener);
      throw err;
    }
    return listener;
  }

  /** Unregister the listener of `as`: its slots are deleted. */
  removeAddressSpace(as: AddressSpace): void {
    const i = this.listeners.findIndex((l) => l.addressSpace === as);
    if (i < 0) throw new RangeError(`address space "${as?.name}" is not registered with this VM`);
    const l = this.listeners[i];
    this.listeners.splice(i, 1);
    as.removeListener(l);
  }

  /** The live KVM slot table of every registered address space, ascending (asId, guest address). */
  slots(): KvmSlot[] {
    return this.listeners.map((l) => l.slots()).flat().sort((a, b) => a.asId - b.asId ||
      (a.guestPhysAddr < b.guestPhysAddr ? -1 : a.guestPhysAddr > b.guestPhysAddr ? 1 : 0));
  }

  /**
   * The RAM-backed guest ranges of every registered address space that have
   * no KVM slot (their guest accesses trap to the model), ascending (asId,
   * guest address); see TrappedReason.
   */
  trapped(): TrappedRange[] {
    return this.listeners.map((l) => l.trapped()).flat().sort((a, b) => a.asId - b.asId ||
      (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  /** The memory listeners (one per address space). */
  get memoryListeners(): readonly KvmMemoryListener[] {
    return this.listeners;
  }

  /**
   * Dirty pages of a RAM-backed region since the last call: guest writes
   * (KVM_GET_DIRTY_LOG of every logging slot backed by it, including slots
   * deleted since) merged with the host's own writes through the memory
   * model.  Guest writes are only logged while the region has dirty logging
   * on (region.setDirtyLogging(true)).  Returns byte offsets of the dirty
   * 4 KiB pages inside the region, ascending; both logs are cleared.
   */
  getDirtyPages(region: MemoryRegion): bigint[] {
    return this.getDirtyPageIndices(region).map((p) => BigInt(p) * PAGE_SIZE);
  }

  /** getDirtyPages() as 4 KiB page numbers (no bigint per page: the snapshot restore path). */
  getDirtyPageIndices(region: MemoryRegion): number[] {
    const block = region?.ramBlock;
    if (block === null || block === undefined) {
      throw new TypeError(`getDirtyPages: region ${region?.name ?? String(region)} has no RAM (only RAM, ROM and ROM device regions can be dirty-logged)`);
    }
    for (const l of this.listeners) l.syncDirtyLog(block);
    return this.dirty.takePages(block, Number((region.size + PAGE_SIZE - 1n) / PAGE_SIZE));
  }

  /**
   * Keep every vCPU that runs on a native thread out of KVM_RUN (kick with
   * immediate_exit + signal, wait until it left the ioctl); returns the
   * function that lets them run again.  vCPUs driven synchronously by
   * vcpu.run() cannot be inside KVM_RUN while JavaScript runs.
   */
  holdVcpus(): () => void {
    const held: VcpuThread[] = [];
    for (const v of this.vcpus) {
      const t = threadOf(v);
      if (t === undefined) continue;
      t.hold();
      held.push(t);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const t of held) t.release();
    };
  }

  /** Closes every vCPU, then the VM. Idempotent. */
  close(): void {
    // the kernel drops the slots with the VM: detach the listeners without ioctls
    for (const l of this.listeners.splice(0)) {
      l._detach();
      try {
        l.addressSpace.removeListener(l);
      } catch {
        // the address space was destroyed already
      }
    }
    for (const vcpu of [...this.vcpus]) {
      threadOf(vcpu)?.stop();
      vcpu.close();
    }
    this.handle.close();
  }

  // ------------------------------------------------- interrupt controllers, PIT, TSS

  /** KVM_CREATE_IRQCHIP: the in-kernel PICs, IOAPIC and (per vCPU) local APICs; before any vCPU. */
  createIrqchip(): void {
    this.ioctl('KVM_CREATE_IRQCHIP');
  }

  /**
   * KVM_CREATE_PIT2: the in-kernel 8254 PIT (after createIrqchip()). With
   * `speakerDummy` the speaker port 0x61 stays with userspace.
   */
  createPit2(options: { speakerDummy: boolean }): void {
    if (typeof options?.speakerDummy !== 'boolean') throw new TypeError('createPit2() needs { speakerDummy: boolean }');
    this.ioctl('KVM_CREATE_PIT2', pitConfig(options));
  }

  /** KVM_IRQ_LINE: drives in-kernel GSI `gsi` to `level`. */
  irqLine(gsi: number, level: boolean): void {
    this.ioctl('KVM_IRQ_LINE', this.irqLevel.set(gsi, level));
  }

  private readonly irqLevel = new IrqLevelBuffer();

  /** KVM_GET_IRQCHIP: one in-kernel interrupt controller's state. */
  getIrqchip(chipId: IrqchipId): IrqchipState {
    const bytes = irqchipBuffer(chipId);
    this.ioctl('KVM_GET_IRQCHIP', bytes);
    return { chipId, bytes };
  }

  /** KVM_SET_IRQCHIP: puts back a state getIrqchip() returned (or irqchipState() checked). */
  setIrqchip(state: IrqchipState): void {
    this.ioctl('KVM_SET_IRQCHIP', irqchipState(state?.bytes).bytes);
  }

  /** KVM_GET_PIT2: the in-kernel PIT's state. */
  getPit2(): Pit2State {
    const bytes = pit2Buffer();
    this.ioctl('KVM_GET_PIT2', bytes);
    return { bytes };
  }

  /** KVM_SET_PIT2: puts back a state getPit2() returned (or pit2State() checked). */
  setPit2(state: Pit2State): void {
    this.ioctl('KVM_SET_PIT2', pit2State(state?.bytes).bytes);
  }

  /** KVM_SET_TSS_ADDR: the three pages Intel VMX needs for real mode without unrestricted guest. */
  setTssAddr(addr: number): void {
    this.ioctl('KVM_SET_TSS_ADDR', toUint(addr, 32, 'TSS address'));
  }
}
