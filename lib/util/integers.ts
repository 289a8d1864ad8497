// Integer arguments from JavaScript: bigint, or a number that is a safe
// integer (anything beyond 2^53 may already have lost precision, so it is
// refused with the bigint to pass instead). Every public call that takes an
// address, size or fixed-width integer checks it here, before anything changes.
import { hex } from './hex';

export const TWO_64 = 1n << 64n;
export const UINT64_MAX = TWO_64 - 1n;

/** A bigint or a safe integer number, as a bigint. */
export function toBigInt(value: unknown, what: string): bigint {
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

/** An unsigned 64-bit value: 0 .. 2^64-1 (addresses, register and MSR values). */
export function toU64(value: unknown, what: string): bigint {
  const v = toBigInt(value, what);
  if (v < 0n) throw new RangeError(`${what} must not be negative (an unsigned value of 64 bits), got ${v}`);
  if (v > UINT64_MAX) throw new RangeError(`${what} ${hex(v)} does not fit in 64 bits (max 0xffffffffffffffff)`);
  return v;
}

/** An unsigned integer of at most `bits` bits (≤ 32), as a number. */
export function toUint(value: unknown, bits: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${what} must be an integer in [0, 2^${bits}) (unsigned ${bits}-bit), got ${String(value)}`);
  }
  return value;
}
