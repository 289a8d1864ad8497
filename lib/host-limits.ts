// What this host can give a guest: how much guest RAM it can back, and how
// wide the guest's physical addresses are.
//
// Guest RAM is mapped MAP_NORESERVE, so creating it costs nothing; a KVM slot
// over it does: this host's KVM (shadow paging) allocates its reverse maps and
// large-page tables when the slot is created, ~2.5 MiB of kernel memory per
// GiB of slot (measured with /proc/meminfo VmallocUsed), so a 16 TiB slot asks
// the kernel for ~40 GiB and sets off the OOM killer.  Guest RAM beyond what
// the host can back (MemTotal + SwapTotal) is refused up front instead, the
// way QEMU's own allocation of such RAM fails; NODE_KVM_MAX_GUEST_RAM raises
// or lowers the limit.
import * as fs from 'fs';
import { parseSize } from './parse-size';
import type { CpuidEntry } from './kvm/cpuid';

export const MAX_GUEST_RAM_ENV = 'NODE_KVM_MAX_GUEST_RAM';

/** Guest RAM (or KVM slot bytes) beyond what the host can back. A RangeError: the size is out of range. */
export class GuestMemoryLimitError extends RangeError {
  constructor(
    message: string,
    /** bytes asked for */
    readonly requested: bigint,
    /** the limit they exceed */
    readonly limit: bigint,
  ) {
    super(message);
    this.name = 'GuestMemoryLimitError';
  }
}

export interface GuestMemoryLimit {
  bytes: bigint;
  /** where the limit comes from, for messages */
  source: string;
}

/** The host's own limit, read once per process (every commit that adds a slot asks). */
let hostLimit: GuestMemoryLimit | null = null;

function readHostLimit(): GuestMemoryLimit {
  if (hostLimit !== null) return hostLimit;
  const text = fs.readFileSync('/proc/meminfo', 'utf8');
  const kib = (field: string): bigint => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? BigInt(m[1]) * 1024n : 0n;
  };
  const memTotal = kib('MemTotal');
  const swapTotal = kib('SwapTotal');
  hostLimit = {
    bytes: memTotal + swapTotal,
    source: `this host's MemTotal ${formatBytes(memTotal)} + SwapTotal ${formatBytes(swapTotal)} (/proc/meminfo)`,
  };
  return hostLimit;
}

/** A byte count for people: 16 TiB, 23.5 GiB, 4096 bytes. */
export function formatBytes(n: bigint): string {
  const units: [bigint, string][] = [[1n << 40n, 'TiB'], [1n << 30n, 'GiB'], [1n << 20n, 'MiB'], [1n << 10n, 'KiB']];
  for (const [u, name] of units) {
    if (n >= u) {
      const tenths = (n * 10n) / u;
      return `${tenths % 10n === 0n ? (tenths / 10n).toString() : `${tenths / 10n}.${tenths % 10n}`} ${name}`;
    }
  }
  return `${n} bytes`;
}

/**
 * The most guest RAM this host backs: NODE_KVM_MAX_GUEST_RAM when set (a
 * size such as '64G'), otherwise MemTotal + SwapTotal from /proc/meminfo
 * (read once per process).  The variable is read at every call, so it can be
 * changed at run time.
 */
export function guestMemoryLimit(): GuestMemoryLimit {
  const env = process.env[MAX_GUEST_RAM_ENV];
  if (env !== undefined && env !== '') {
    return { bytes: parseSize(env, MAX_GUEST_RAM_ENV), source: `${MAX_GUEST_RAM_ENV}=${env}` };
  }
  return readHostLimit();
}

/** The error for `requested` bytes of `what` over `limit`; says the limit and how to change it. */
export function guestMemoryLimitError(what: string, requested: bigint, limit: GuestMemoryLimit): GuestMemoryLimitError {
  return new GuestMemoryLimitError(
    `${what}: ${formatBytes(requested)} of guest RAM is more than this host can back: the limit is ${formatBytes(limit.bytes)}, ` +
    `from ${limit.source}. Use less guest RAM, or set ${MAX_GUEST_RAM_ENV}=<size> (e.g. ${MAX_GUEST_RAM_ENV}=64G) to change the limit ` +
    '(KVM allocates ~2.5 MiB of kernel memory per GiB of slot when the slot is created; memory the guest touches must exist)',
    requested, limit.bytes,
  );
}

/** Throws GuestMemoryLimitError when `bytes` of `what` exceed the limit. Nothing is changed either way. */
export function checkGuestMemory(what: string, bytes: bigint): void {
  const limit = guestMemoryLimit();
  if (bytes > limit.bytes) throw guestMemoryLimitError(what, bytes, limit);
}

/**
 * The guest's physical-address width as KVM offers it: CPUID 0x80000008
 * EAX[7:0] of KVM_GET_SUPPORTED_CPUID (36 when the leaf is absent, the
 * architectural default).  KVM's own bound for slots is at least this wide
 * (2^52 with shadow paging, measured here: 48-bit CPUID, slots refused from
 * 2^52; the host's MAXPHYADDR with TDP), so a slot below it is never refused.
 */
export function physAddrBits(cpuid: readonly CpuidEntry[]): number {
  const leaf = cpuid.find((e) => e.function === 0x80000008);
  const bits = leaf === undefined ? 0 : leaf.eax & 0xff;
  return bits === 0 ? 36 : bits;
}
