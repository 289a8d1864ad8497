// A virtual machine: the VM handle (its fd, VM ioctls, capabilities, vCPU
// creation).  Its memory slots are kept by MemorySlots (memory-slots.ts); the
// memory methods here delegate to it.
import { ioctlNumber, kvmConstant, NativeVm } from '../binding';
import { PAGE_SIZE } from '../memory/ram-block';
import { callNative, KvmError } from '../errors';
import { errno } from '../util/errno';
import { toAddress, toLength } from '../memory/size';
import { hex } from '../util/hex';
import { toUint, TWO_64 } from '../util/integers';
import { Vcpu } from './vcpu';
import type { AddressSpace } from '../memory/address-space';
import type { MemoryRegion } from '../memory/region';
import { threadOf, type VcpuThread } from './vcpu-thread';
import { capabilityNumber } from './capability';
import { belowPhysWidthAdvice, GUEST_PHYS_WIDTH, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, type KvmSlot } from './kvm-slot';
import type { KvmMemoryListener, KvmMemoryListenerOptions } from './memory-listener';
import { MemorySlots } from './memory-slots';
import type { TrappedRange } from './trapped-ranges';
import { checkGuestMemory } from '../host-limits';
import { checkGsiRouting, type GsiRoute, gsiRoutingBytes, type MsiMessage, msiBytes } from './gsi-routing';
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

function pageAligned(value: bigint, what: string): bigint {
  if (value % PAGE_SIZE !== 0n) throw new RangeError(`${what} ${hex(value)} is not 4 KiB aligned`);
  return value;
}

export class Vm {
  private readonly vcpus = new Set<Vcpu>();
  private syncRegs: boolean | undefined;
  /** the KVM slots of every registered address space */
  private readonly memory: MemorySlots;
  /** @internal created by Kvm.createVm(); `physBits`: the guest's physical-address width KVM offers */
  constructor(private readonly handle: NativeVm, private readonly physBits: number) {
    this.memory = new MemorySlots({
      native: handle,
      physBits,
      checkExtension: (cap) => this.checkExtension(cap),
      holdVcpus: () => this.holdVcpus(),
    });
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /** The raw native handle, for the memory listener and advanced ioctls. */
  get native(): NativeVm {
    return this.handle;
  }

  /** KVM_CHECK_EXTENSION on the VM (capabilities may differ per VM). */
  checkExtension(cap: number | string): number {
    const n = capabilityNumber(cap);
    return callNative(() => this.handle.ioctl(ioctlNumber('KVM_CHECK_EXTENSION'), n));
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
    const slot = toUint(region.slot, 32, 'slot');
    const flags = toUint(region.flags ?? 0, 32, 'flags');
    if ((flags & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) !== 0) throw new RangeError(`flags ${hex(flags)} has bits KVM does not know`);
    const gpa = pageAligned(toAddress(region.guestPhysAddr, 'guestPhysAddr'), 'guestPhysAddr');
    const size = pageAligned(toLength(region.memorySize, 'memorySize'), 'memorySize');
    const ua = pageAligned(toAddress(region.userspaceAddr, 'userspaceAddr'), 'userspaceAddr');
    if (gpa + size > TWO_64) throw new RangeError('guestPhysAddr + memorySize is beyond 2^64');
    const physLimit = 1n << BigInt(this.physBits);
    if (size > 0n && gpa + size > physLimit) {
      // (the kernel answers EINVAL only from its own, host-dependent bound, with advice about alignment)
      throw new RangeError(
        `slot ${slot}: guestPhysAddr ${hex(gpa)} + memorySize ${hex(size)} ends above 2^${this.physBits}, ${GUEST_PHYS_WIDTH}: ` +
        `no guest access can reach it. ${belowPhysWidthAdvice('the slot', physLimit)}`,
      );
    }
    // one slot's kernel cost is proportional to its size (the listener checks the VM's total)
    checkGuestMemory(`slot ${slot}`, size);
    callNative(
      () => this.handle.setUserMemoryRegion(slot, flags, gpa, size, ua),
      `slot ${slot} gpa=${hex(gpa)} size=${hex(size)}`,
    );
  }

  /** KVM_GET_DIRTY_LOG for a slot: one bit per 4 KiB page, little-endian u64 words. */
  getDirtyLog(slot: number, bitmap: Uint8Array): void {
    callNative(() => this.handle.getDirtyLog(toUint(slot, 32, 'slot'), bitmap));
  }

  createVcpu(id = 0): Vcpu {
    const vcpuId = toUint(id, 32, 'id');
    const handle = callNative(() => this.handle.createVcpu(vcpuId), `vCPU ${vcpuId}`);
    this.syncRegs ??= (this.checkExtension('KVM_CAP_SYNC_REGS') & kvmConstant('KVM_SYNC_X86_REGS')) !== 0;
    const vcpu = new Vcpu(handle, vcpuId, (v) => this.vcpus.delete(v), this.syncRegs);
    this.vcpus.add(vcpu);
    return vcpu;
  }

  // ------------------------------------------------------------ memory slots (MemorySlots)

  /**
   * Register a KVM memory listener on `as`: every RAM-backed section of its
   * flat view (RAM, ROM, ROM device in romd mode) becomes page-aligned KVM
   * slots, now (replay) and after every committed transaction.  Attached
   * completely or not at all.
   */
  addAddressSpace(as: AddressSpace, opts: KvmMemoryListenerOptions = {}): KvmMemoryListener {
    return this.memory.add(as, opts);
  }

  /** Unregister the listener of `as`: its slots are deleted. */
  removeAddressSpace(as: AddressSpace): void {
    this.memory.remove(as);
  }

  /** The live KVM slot table of every registered address space, ascending (asId, guest address). */
  slots(): KvmSlot[] {
    return this.memory.slots();
  }

  /**
   * The RAM-backed guest ranges of every registered address space that have
   * no KVM slot (their guest accesses trap to the model), ascending (asId,
   * guest address); see TrappedReason.
   */
  trapped(): TrappedRange[] {
    return this.memory.trapped();
  }

  /** The memory listeners (one per address space). */
  get memoryListeners(): readonly KvmMemoryListener[] {
    return this.memory.memoryListeners;
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
    return this.memory.dirtyPageIndices(region);
  }

  /**
   * Keep every vCPU that runs on a native thread out of KVM_RUN (kick with
   * immediate_exit + signal, wait until it left the ioctl); returns the
   * function that lets them run again.  vCPUs driven synchronously by
   * vcpu.run() cannot be inside KVM_RUN while JavaScript runs.  The slots
   * hold them while deleting; it is the VM's because it concerns all its vCPUs.
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
    this.memory.detachAll();
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

  /**
   * KVM_SET_GSI_ROUTING: replaces the whole GSI routing table (after
   * createIrqchip(); KVM's default routes GSI 0-15 to both PICs and GSI 0-23
   * to IOAPIC pins 0-23). Checked first: a bad table is a TypeError or
   * RangeError and the routing in force stays.
   */
  setGsiRouting(routes: readonly GsiRoute[]): void {
    const max = this.checkExtension('IRQ_ROUTING');
    if (max === 0) throw new KvmError('KVM_SET_GSI_ROUTING', errno('EINVAL'), 'this host has no KVM_CAP_IRQ_ROUTING');
    this.ioctl('KVM_SET_GSI_ROUTING', gsiRoutingBytes(checkGsiRouting(routes, max)));
  }

  /**
   * KVM_SIGNAL_MSI: delivers an MSI message to the in-kernel local APICs
   * (after createIrqchip()). Returns the kernel's answer: how many took it,
   * 0 when none did (no such destination, or the guest's APIC is disabled);
   * throws KvmError where the kernel refuses the message.
   */
  signalMsi(message: MsiMessage): number {
    return this.ioctl('KVM_SIGNAL_MSI', msiBytes(message));
  }

  /** KVM_SET_TSS_ADDR: the three pages Intel VMX needs for real mode without unrestricted guest. */
  setTssAddr(addr: number): void {
    this.ioctl('KVM_SET_TSS_ADDR', toUint(addr, 32, 'TSS address'));
  }
}
