// Host memory for guest RAM: page-rounded anonymous (or memfd) mappings with
// zero-copy views. A view never outlives its mapping: close() detaches the
// ArrayBuffer it handed out (views then have length 0) and replaces the memory
// in place with fresh zeroed pages, so what close() cannot detach (a buffer
// moved by ArrayBuffer.prototype.transfer(), an fs.read or crypto.randomFill
// still running in the threadpool) lands in memory that is still ours and no
// longer guest RAM. The address range is unmapped once the last such holder
// is garbage-collected. The addon refuses to close memory a KVM slot maps.
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
  /**
   * Ask for transparent huge pages (madvise MADV_HUGEPAGE): where the host's THP mode is `madvise`,
   * only memory that asks gets them. A hint: a kernel without THP leaves the memory as it is.
   */
  hugePages?: boolean;
  /**
   * Leave the memory out of fork()ed children (madvise MADV_DONTFORK): a child_process spawn then
   * neither copies its page tables nor makes every page copy-on-write for the guest.
   */
  dontFork?: boolean;
}

export interface HostMemory {
  /** Bytes mapped (the requested size rounded up to 4 KiB). */
  readonly size: bigint;
  /** Userspace address of byte 0, for KVM_SET_USER_MEMORY_REGION. */
  readonly hostAddress: bigint;
  readonly closed: boolean;
  /** A zero-copy view of `length` bytes from `offset` (default: all of it). */
  bytes(offset?: bigint | number, length?: bigint | number): Uint8Array;
  /**
   * Detaches every view and releases the memory; the address range stays reserved (zeroed, no
   * longer guest RAM) until nothing can reach it. Idempotent. Throws KvmError EBUSY while a KVM
   * slot maps it.
   */
  close(): void;
}

/** The largest view Node can make over external memory (and so over guest RAM) in one ArrayBuffer. */
export const MAX_VIEW = 1n << 32n;
const WINDOW_STEP = MAX_VIEW / 2n;

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
    if (this.size <= MAX_VIEW) {
      const buffer = callNative(() => this.handle.buffer(), 'host memory is closed');
      return new Uint8Array(buffer, Number(start), Number(len));
    }
    // Node makes no external ArrayBuffer over more than 4 GiB: serve the view
    // from a window. Windows start on WINDOW_STEP boundaries and span up to
    // MAX_VIEW, so a view of up to WINDOW_STEP bytes always fits one of the
    // few cached windows; a larger view gets a window of its own.
    if (len > MAX_VIEW) throw new RangeError(`bytes(): a view of host memory can be at most 4 GiB, asked for ${hex(len)} bytes`);
    let base = (start / WINDOW_STEP) * WINDOW_STEP;
    let span = this.size - base < MAX_VIEW ? this.size - base : MAX_VIEW;
    if (start + len > base + span) [base, span] = [start, len];
    const buffer = callNative(() => this.handle.buffer(base, span), 'host memory is closed');
    return new Uint8Array(buffer, Number(start - base), Number(len));
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
  const opts = checkOptions(options, { name: true, memfd: true, hugePages: true, dontFork: true }, 'allocateHostMemory()');
  for (const key of ['hugePages', 'dontFork'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw new TypeError(`allocateHostMemory(): ${key} must be a boolean`);
  }
  const bytes = toLength(size, 'size');
  if (bytes === 0n) throw new RangeError('size must be at least 1 byte');
  const memfdName = opts.memfd || opts.name !== undefined ? (opts.name ?? 'node-kvm') : undefined;
  const { HostMemory: Ctor, constants } = native();
  const advice = (opts.hugePages ? constants.HOST_MEMORY_ADVISE_HUGEPAGE : 0) | (opts.dontFork ? constants.HOST_MEMORY_ADVISE_DONTFORK : 0);
  return new NativeBackedHostMemory(callNative(() => new Ctor(bytes, memfdName, advice)));
}
