/**
 * bigint helpers for 65-bit sizes and 64-bit addresses.
 *
 * QEMU keeps region sizes in an Int128 because a region may cover the whole
 * 64-bit space (size 2^64).  Callers pass a uint64_t, and UINT64_MAX is
 * *encoded* as 2^64 (so a region can never be exactly 2^64-1 bytes long).
 * We accept `number` (safe integers only, anything else would already have
 * lost precision) or `bigint`, and validate before anything is changed.
 */

export const TWO_64 = 1n << 64n;
export const UINT64_MAX = TWO_64 - 1n;
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

function toBigInt(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || !Number.isInteger(value)) {
      throw new RangeError(`${what} must be an integer, got ${value}`);
    }
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`${what} ${value} is beyond Number.MAX_SAFE_INTEGER and may have lost precision; pass it as a bigint (e.g. ${BigInt(value)}n)`);
    }
    return BigInt(value);
  }
  throw new TypeError(`${what} must be a bigint or a safe integer number, got ${value === null ? 'null' : typeof value}`);
}

/**
 * A region size as QEMU stores it: 0 .. 2^64 inclusive.  UINT64_MAX is
 * mapped to 2^64 exactly like memory_region_init() / memory_region_set_size().
 */
export function toRegionSize(value: unknown, what = 'size'): bigint {
  const v = toBigInt(value, what);
  if (v < 0n) throw new RangeError(`${what} must not be negative, got ${v}`);
  if (v > TWO_64) throw new RangeError(`${what} 0x${v.toString(16)} is larger than 2^64, the whole address space`);
  return v === UINT64_MAX ? TWO_64 : v;
}

/** A plain 65-bit length (no UINT64_MAX encoding): 0 .. 2^64. */
export function toLength(value: unknown, what = 'length'): bigint {
  const v = toBigInt(value, what);
  if (v < 0n) throw new RangeError(`${what} must not be negative, got ${v}`);
  if (v > TWO_64) throw new RangeError(`${what} 0x${v.toString(16)} is larger than 2^64`);
  return v;
}

/** A 64-bit address or offset (hwaddr): 0 .. 2^64-1. */
export function toAddress(value: unknown, what = 'address'): bigint {
  const v = toBigInt(value, what);
  if (v < 0n) throw new RangeError(`${what} must not be negative, got ${v}`);
  if (v > UINT64_MAX) throw new RangeError(`${what} 0x${v.toString(16)} does not fit in 64 bits (max 0xffffffffffffffff)`);
  return v;
}

/** A signed 32-bit priority, as in QEMU's `int priority`. */
export function toPriority(value: unknown, what = 'priority'): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${what} must be a number (signed 32-bit integer), got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new RangeError(`${what} must be a signed 32-bit integer, got ${value}`);
  }
  return value;
}

/** `%016` PRIx64 of a value taken modulo 2^64 (QEMU prints hwaddr). */
export function hex16(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, '0');
}

/** The size as `memory_region_size()` reports it: 2^64 comes back as UINT64_MAX. */
export function int128ToU64(size: bigint): bigint {
  return size === TWO_64 ? UINT64_MAX : size;
}
