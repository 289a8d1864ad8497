// The native addon, loaded once, with a typed view of what it exports.
// node-gyp-build looks in build/Release, build/Debug, then prebuilds/<platform>-<arch>.
import * as path from 'path';

/** An open KVM file descriptor that accepts whitelisted ioctls (see native/ioctl.cc). */
export interface NativeFdHandle {
  ioctl(request: number, arg?: number | bigint | Uint8Array): number;
  close(): void;
  readonly closed: boolean;
}

export interface NativeKvm extends NativeFdHandle {
  createVm(type?: number): NativeVm;
}

export interface NativeVm extends NativeFdHandle {
  createVcpu(id: number): NativeVcpu;
  setUserMemoryRegion(slot: number, flags: number, guestPhysAddr: bigint, memorySize: bigint, userspaceAddr: bigint): void;
  getDirtyLog(slot: number, bitmap: Uint8Array): void;
}

export interface NativeVcpu extends NativeFdHandle {
  /** One KVM_RUN; returns kvm_run.exit_reason (KVM_EXIT_INTR when kicked). */
  run(): number;
  /** The kvm_run page, zero-copy; detached when the vCPU closes. */
  runBuffer(): ArrayBuffer;
  /** Kick out of KVM_RUN after `ms` (0 disarms and clears immediate_exit). */
  setTimer(ms: number): void;
  kick(): void;
}

export interface NativeHostMemory {
  readonly size: bigint;
  readonly hostAddress: bigint;
  readonly closed: boolean;
  readonly slotRefs: number;
  buffer(offset?: bigint, length?: bigint): ArrayBuffer;
  close(): void;
}

export interface NativeBinding {
  Kvm: new (path: string) => NativeKvm;
  /** advice: constants HOST_MEMORY_ADVISE_HUGEPAGE | HOST_MEMORY_ADVISE_DONTFORK (madvise hints) */
  HostMemory: new (size: bigint, memfdName?: string, advice?: number) => NativeHostMemory;
  ioctls: Record<string, number>;
  constants: Record<string, number>;
  layout: Record<string, number>;
  /** Live (usable) host mappings, guest RAM and kvm_run pages: for leak checks. */
  liveMappings(): number;
  /** Closed mappings whose address range stays reserved until every holder is garbage-collected. */
  retiredMappings(): number;
}

let cached: NativeBinding | undefined;

/** The addon; throws a clear error when it was never built. */
export function native(): NativeBinding {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('node-gyp-build') as (dir: string) => unknown;
  try {
    cached = load(path.join(__dirname, '..')) as NativeBinding;
  } catch (err) {
    throw new Error(
      `node-kvm: the native addon is not built (${(err as Error).message.split('\n')[0]}). ` +
        'Run `npm rebuild node-kvm` (needs a C++ compiler and cmake) or install a prebuilt package.',
    );
  }
  return cached;
}

/** A constant from <linux/kvm.h>, exported by the addon. */
export function kvmConstant(name: string): number {
  const v = native().constants[name];
  if (v === undefined) throw new Error(`node-kvm: unknown KVM constant ${name}`);
  return v;
}

/** An ioctl request number from the addon's whitelist. */
export function ioctlNumber(name: string): number {
  const v = native().ioctls[name];
  if (v === undefined) throw new Error(`node-kvm: unknown ioctl ${name}`);
  return v;
}

/** A struct offset or size from <linux/kvm.h>, e.g. `run.io.port`, `sizeof.kvm_regs`. */
export function layout(name: string): number {
  const v = native().layout[name];
  if (v === undefined) throw new Error(`node-kvm: unknown layout entry ${name}`);
  return v;
}
