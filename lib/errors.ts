// Typed errors. Every failure of a KVM call reaches the user as a KvmError
// with the errno, its symbolic code, the call that failed and what to do.
import { ERRNO } from './util/errno';

/** Advice for (syscall, code) pairs users actually hit; the key '*' matches any call. */
const ADVICE: Record<string, Record<string, string>> = {
  open: {
    ENOENT: 'KVM is not available on this host: load the kvm_intel or kvm_amd module, or enable nested virtualization',
    EACCES: 'permission denied — add your user to the kvm group (sudo usermod -aG kvm $USER) and log in again',
    EPERM: 'permission denied — add your user to the kvm group (sudo usermod -aG kvm $USER) and log in again',
    ENXIO: 'the KVM module is loaded but virtualization is disabled: enable VT-x/AMD-V in the firmware',
  },
  KVM_SET_USER_MEMORY_REGION: {
    EEXIST: 'the slot overlaps the guest range of another slot: delete that slot first',
    EINVAL: 'guest address, size and host address must be 4 KiB aligned, and the slot id below KVM_CAP_NR_MEMSLOTS',
    ENOSPC: 'no free KVM memory slot is left',
  },
  KVM_CREATE_VCPU: {
    EEXIST: 'a vCPU with this id already exists in the VM',
    EINVAL: 'the vCPU id is above what KVM_CAP_MAX_VCPUS allows',
  },
  KVM_RUN: {
    EFAULT: 'the guest accessed memory whose host mapping is gone or unreadable',
    ENOEXEC: 'the vCPU state is not runnable (check segment and control registers)',
  },
  'HostMemory.close': {
    EBUSY: 'a KVM memory slot still maps this memory: delete the slot, or close the VM and all its vCPUs, first',
  },
  '*': {
    EBADF: 'the handle is closed',
    ENOMEM: 'the host is out of memory',
    E2BIG: 'the buffer has too few entries for the answer',
  },
};

function codeOf(errno: number): string {
  for (const [name, value] of Object.entries(ERRNO)) if (value === errno) return name;
  return `E${errno}`;
}

export class KvmError extends Error {
  /** Positive errno value, as the kernel returned it. */
  readonly errno: number;
  /** Symbolic errno, e.g. 'EEXIST'. */
  readonly code: string;
  /** The system call or ioctl that failed, e.g. 'KVM_SET_USER_MEMORY_REGION'. */
  readonly syscall: string;

  constructor(syscall: string, errno: number, detail?: string) {
    const code = codeOf(errno);
    const advice = ADVICE[syscall]?.[code] ?? ADVICE['*']?.[code];
    const what = detail ? `${syscall} (${detail})` : syscall;
    super(`${what} failed: ${code}${advice ? ` — ${advice}` : ''}`);
    this.name = 'KvmError';
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
  }
}

/**
 * Runs a native call and turns what it throws into errors of this realm:
 * errno failures become KvmError; TypeError/RangeError are re-created so
 * `instanceof` works in every vm context (jest gives each file its own).
 */
export function callNative<T>(fn: () => T, detail?: string): T {
  try {
    return fn();
  } catch (err) {
    throw translateNativeError(err, detail);
  }
}

export function translateNativeError(err: unknown, detail?: string): Error {
  const e = err as { errno?: unknown; syscall?: unknown; message?: unknown; name?: unknown };
  if (e && typeof e.errno === 'number' && typeof e.syscall === 'string') return new KvmError(e.syscall, e.errno, detail);
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (e?.name === 'TypeError') return new TypeError(message);
  if (e?.name === 'RangeError') return new RangeError(message);
  return err instanceof Error ? err : new Error(message);
}
