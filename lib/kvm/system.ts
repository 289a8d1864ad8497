// The KVM system device (/dev/kvm): capabilities, CPUID, VM creation.
import { ioctlNumber, kvmConstant, layout, native, NativeKvm } from '../binding';
import { callNative, KvmError } from '../errors';
import { Vm } from './vm';
import { checkRegisterLayouts } from './registers';
import { physAddrBits } from '../host-limits';

export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const CPUID_ENTRY_SIZE = 40;

export function decodeCpuid(bytes: Uint8Array): CpuidEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * CPUID_ENTRY_SIZE;
    const w = (k: number) => dv.getUint32(at + 4 * k, true);
    out.push({ function: w(0), index: w(1), flags: w(2), eax: w(3), ebx: w(4), ecx: w(5), edx: w(6) });
  }
  return out;
}

export function encodeCpuid(entries: readonly CpuidEntry[]): Uint8Array {
  const bytes = new Uint8Array(8 + entries.length * CPUID_ENTRY_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    const at = 8 + i * CPUID_ENTRY_SIZE;
    [e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx].forEach((v, k) => dv.setUint32(at + 4 * k, v >>> 0, true));
  });
  return bytes;
}

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
    if (layout('sizeof.kvm_cpuid_entry2') !== CPUID_ENTRY_SIZE) throw new Error('node-kvm: unexpected kvm_cpuid_entry2 size');
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
    const n = typeof cap === 'string' ? kvmConstant(cap.startsWith('KVM_CAP_') ? cap : `KVM_CAP_${cap}`) : cap;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new RangeError('cap must be a non-negative integer');
    return callNative(() => this.handle.ioctl(ioctlNumber('KVM_CHECK_EXTENSION'), n));
  }

  /** The CPUID leaves KVM can offer a guest (KVM_GET_SUPPORTED_CPUID). */
  supportedCpuid(): CpuidEntry[] {
    for (let n = 256; n <= 4096; n *= 2) {
      const bytes = new Uint8Array(8 + n * CPUID_ENTRY_SIZE);
      new DataView(bytes.buffer).setUint32(0, n, true);
      try {
        callNative(() => this.handle.ioctl(ioctlNumber('KVM_GET_SUPPORTED_CPUID'), bytes));
        return decodeCpuid(bytes);
      } catch (err) {
        if (!(err instanceof KvmError && err.code === 'E2BIG')) throw err;
      }
    }
    throw new KvmError('KVM_GET_SUPPORTED_CPUID', 7 /* E2BIG */, 'more than 4096 entries');
  }

  /** MSRs KVM can save and restore for a guest (KVM_GET_MSR_INDEX_LIST). */
  msrIndexList(): number[] {
    for (let n = 64; n <= 8192; n *= 2) {
      const bytes = new Uint8Array(4 + 4 * n);
      const dv = new DataView(bytes.buffer);
      dv.setUint32(0, n, true);
      try {
        callNative(() => this.handle.ioctl(ioctlNumber('KVM_GET_MSR_INDEX_LIST'), bytes));
      } catch (err) {
        if (err instanceof KvmError && err.code === 'E2BIG') continue;
        throw err;
      }
      return Array.from({ length: dv.getUint32(0, true) }, (_, i) => dv.getUint32(4 + 4 * i, true));
    }
    throw new KvmError('KVM_GET_MSR_INDEX_LIST', 7 /* E2BIG */, 'more than 8192 MSRs');
  }

  createVm(): Vm {
    const handle = callNative(() => this.handle.createVm());
    // the guest's address width bounds the VM's slots; asked now, as /dev/kvm may be closed before the VM
    try {
      this.physBits ??= physAddrBits(this.supportedCpuid());
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
