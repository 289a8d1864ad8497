// A virtual machine: memory slots and vCPUs.
import { ioctlNumber, kvmConstant, NativeVm } from '../binding';
import { callNative } from '../errors';
import { toAddress, toLength, TWO_64 } from '../memory/size';
import { Vcpu } from './vcpu';

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

export const PAGE_SIZE = 4096n;

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

  /** @internal created by Kvm.createVm() */
  constructor(private readonly handle: NativeVm) {}

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
    const vcpu = new Vcpu(handle, vcpuId, (v) => this.vcpus.delete(v));
    this.vcpus.add(vcpu);
    return vcpu;
  }

  /** Closes every vCPU, then the VM. Idempotent. */
  close(): void {
    for (const vcpu of [...this.vcpus]) vcpu.close();
    this.handle.close();
  }
}
