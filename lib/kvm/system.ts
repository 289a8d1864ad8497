// The KVM system device (/dev/kvm): capabilities, CPUID, VM creation.
import { ioctlNumber, kvmConstant, native, NativeKvm } from '../binding';
import { callNative } from '../errors';
import { capabilityNumber } from './capability';
import { cpuidBuffer, type CpuidEntry, decodeCpuid } from './cpuid';
import { queryFlexArray } from './flex-array';
import { checkRegisterLayouts } from './registers';
import { physAddrBits } from '../host-limits';
import { Vm } from './vm';


const supportedCpuidByPath = new Map<string, readonly CpuidEntry[]>();

export class Kvm {
  /** CPUID 0x80000008 EAX[7:0] of the supported CPUID, asked once */
  private physBits: number | undefined;

  private constructor(private readonly handle: NativeKvm, readonly path: string) {}

  /**
   * Opens the KVM device and checks its API version. Throws KvmError with
   * advice when the device is missing or not accessible.
   */
  static open(path = '/dev/kvm'): Kvm {
    if (typeof path !== 'string') throw new TypeError('path must be a string');
    const { Kvm: Ctor } = native();
    checkRegisterLayouts();
    const handle = callNative(() => new Ctor(path), path);
    const kvm = new Kvm(handle, path);
    try {
      const version = kvm.apiVersion;
      if (version !== kvmConstant('KVM_API_VERSION')) {
        throw new Error(`${path}: KVM API version ${version}, node-kvm needs ${kvmConstant('KVM_API_VERSION')}`);
      }
    } catch (err) {
      handle.close(); // e.g. a path that is not KVM at all (ENOTTY): do not leak the fd
      throw err;
    }
    return kvm;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  get apiVersion(): number {
    return callNative(() => this.handle.ioctl(ioctlNumber('KVM_GET_API_VERSION')));
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, otherwise the capability's value. Accepts 'READONLY_MEM' or 'KVM_CAP_READONLY_MEM'. */
  checkExtension(cap: number | string): number {
    const n = capabilityNumber(cap);
    return callNative(() => this.handle.ioctl(ioctlNumber('KVM_CHECK_EXTENSION'), n));
  }

  /**
   * The CPUID leaves KVM can offer a guest (KVM_GET_SUPPORTED_CPUID), as a
   * copy the caller may change. Asked once per device path: it is a property
   * of the host's KVM module and costs hundreds of microseconds under nested
   * KVM (QEMU caches it the same way).
   */
  supportedCpuid(): CpuidEntry[] {
    return this.cachedSupportedCpuid().map((e) => ({ ...e }));
  }

  private cachedSupportedCpuid(): readonly CpuidEntry[] {
    let entries = supportedCpuidByPath.get(this.path);
    if (entries === undefined) {
      entries = queryFlexArray({
        ioctl: 'KVM_GET_SUPPORTED_CPUID', first: 256, max: 4096, buffer: cpuidBuffer, decode: decodeCpuid,
        call: (bytes) => callNative(() => this.handle.ioctl(ioctlNumber('KVM_GET_SUPPORTED_CPUID'), bytes)),
      });
      supportedCpuidByPath.set(this.path, entries);
    }
    return entries;
  }

  /** MSRs KVM can save and restore for a guest (KVM_GET_MSR_INDEX_LIST). */
  msrIndexList(): number[] {
    // struct kvm_msr_list: u32 nmsrs, then nmsrs u32 indices.
    return queryFlexArray({
      ioctl: 'KVM_GET_MSR_INDEX_LIST', first: 64, max: 8192,
      buffer: (n) => {
        const bytes = new Uint8Array(4 + 4 * n);
        new DataView(bytes.buffer).setUint32(0, n, true);
        return bytes;
      },
      call: (bytes) => callNative(() => this.handle.ioctl(ioctlNumber('KVM_GET_MSR_INDEX_LIST'), bytes)),
      decode: (bytes) => {
        const dv = new DataView(bytes.buffer);
        return Array.from({ length: dv.getUint32(0, true) }, (_, i) => dv.getUint32(4 + 4 * i, true));
      },
    });
  }

  createVm(): Vm {
    const handle = callNative(() => this.handle.createVm());
    // the guest's address width bounds the VM's slots; asked now, as /dev/kvm may be closed before the VM
    try {
      this.physBits ??= physAddrBits(this.cachedSupportedCpuid());
    } catch (err) {
      handle.close();
      throw err;
    }
    return new Vm(handle, this.physBits);
  }

  close(): void {
    this.handle.close();
  }
}
