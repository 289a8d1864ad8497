/**
 * The memory API's sizes, addresses and priorities, checked on input (the
 * integer rules themselves are lib/util/integers.ts's).
 *
 * QEMU keeps region sizes in an Int128 because a region may cover the whole
 * 64-bit space (size 2^64).  Callers pass a uint64_t, and UINT64_MAX is
 * *encoded* as 2^64 (so a region can never be exactly 2^64-1 bytes long).
 */
import { hex } from '../util/hex';
import { toBigInt, toU64, TWO_64, UINT64_MAX } from '../util/integers';

export { TWO_64, UINT64_MAX };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * A region size as QEMU stores it: 0 .. 2^64 inclusive.  UINT64_MAX is
 * mapped to 2^64 exactly like memory_region_init() / memory_region_set_size().
 */
export function toRegionSize(value: unknown, what = 'size'): bigint {
  const v = toBigInt(value, what);
  if (v < 0n) throw new RangeError(`${what} must not be negative, got ${v}`);
  if (v > TWO_64) throw new RangeError(`${what} ${hex(v)} is larger than 2^64, the whole address space`);
  return v === UINT64_MAX ? TWO_64 : v;
}

/** A plain 65-bit length (no UINT64_MAX encoding): 0 .. 2^64. */
export function toLength(value: unknown, what = 'length'): bigint {
  const v = toBigInt(value, what);
  if (v < 0n) throw new RangeError(`${what} must not be negative, got ${v}`);
  if (v > TWO_64) throw new RangeError(`${what} ${hex(v)} is larger than 2^64`);
  return v;
}

/** A 64-bit address or offset (hwaddr): 0 .. 2^64-1. */
export function toAddress(value: unknown, what = 'address'): bigint {
  return toU64(value, what);
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

/** The size as `memory_region_size()` reports it: 2^64 comes back as UINT64_MAX. */
export function int128ToU64(size: bigint): bigint {
  return size === TWO_64 ? UINT64_MAX : size;
}
