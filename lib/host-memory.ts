// Host memory for guest RAM: page-rounded anonymous (or memfd) mappings with
// zero-copy views. A view never outlives its mapping: close() detaches every
// ArrayBuffer over it first (views then have length 0), and the addon refuses
// to unmap memory that a KVM slot still points at.
import { native, NativeHostMemory } from './binding';
import { callNative } from './errors';
import { toLength } from './memory/size';
import { checkOptions } from './options';
import { hex } from './util/hex';

export interface HostMemoryOptions {
  /** Back the memory with a memfd of this name instead of anonymous memory. */
  name?: string;
  /** Use a memfd (shareable, visible in /proc/<pid>/fd); anonymous otherwise. */
  memfd?: boolean;
}

export interface HostMemory {
  /** Bytes mapped (the requested size rounded up to 4 KiB). */
  readonly size: bigint;
  /** Userspace address of byte 0, for KVM_SET_USER_MEMORY_REGION. */
  readonly hostAddress: bigint;
  readonly closed: boolean;
  /** A zero-copy view of `length` bytes from `offset` (default: all of it). */
  bytes(offset?: bigint | number, length?: bigint | number): Uint8Array;
  /** Detaches every view, then unmaps. Idempotent. Throws KvmError EBUSY while a KVM slot maps it. */
  close(): void;
}

class NativeBackedHostMemory implements HostMemory {
  readonly size: bigint;
  readonly hostAddress: bigint;

  constructor(private readonly handle: NativeHostMemory) {
    this.size = handle.size;
    this.hostAddress = handle.hostAddress;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  bytes(offset: bigint | number = 0n, length?: bigint | number): Uint8Array {
    const start = toLength(offset, 'offset');
    const len = length === undefined ? this.size - start : toLength(length, 'length');
    if (start > this.size || len > this.size - start) {
      throw new RangeError(
        `bytes(${hex(start)}, ${hex(len)}) is outside host memory of ${hex(this.size)} bytes`,
      );
    }
    const buffer = callNative(() => this.handle.buffer(), 'host memory is closed');
    return new Uint8Array(buffer, Number(start), Number(len));
  }

  close(): void {
    callNative(() => this.handle.close());
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Maps `size` bytes (rounded up to 4 KiB) of zeroed host memory, MAP_NORESERVE. */
export function allocateHostMemory(size: bigint | number, options?: HostMemoryOptions): HostMemory {
  const opts = checkOptions(options, { name: true, memfd: true }, 'allocateHostMemory()');
  const bytes = toLength(size, 'size');
  if (bytes === 0n) throw new RangeError('size must be at least 1 byte');
  const memfdName = opts.memfd || opts.name !== undefined ? (opts.name ?? 'node-kvm') : undefined;
  const { HostMemory: Ctor } = native();
  return new NativeBackedHostMemory(callNative(() => new Ctor(bytes, memfdName)));
}
