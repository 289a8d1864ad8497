// Strict size strings for users: '16M', '512K', '1G', '16MiB', '4096'.
// No spaces, fractions, signs or decimal-SI units: a typo is an error, not a guess.
const UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

export function parseSize(value: string | number | bigint, what = 'size'): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n) throw new RangeError(`${what} must not be negative`);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
    return BigInt(value);
  }
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string like '16M', a number or a bigint`);
  const m = /^([0-9]+)(?:([KMGT])(?:iB)?)?$/.exec(value);
  if (!m) throw new RangeError(`${what} "${value}" is not a size: use digits with an optional K, M, G or T suffix (binary units), e.g. '16M'`);
  return BigInt(m[1]) * UNITS[m[2] ?? ''];
}

/** Parses a guest address: decimal or 0x-hex, as a bigint. */
export function parseAddress(value: string, what = 'address'): bigint {
  if (typeof value !== 'string' || !/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) {
    throw new RangeError(`${what} "${String(value)}" is not an address: use decimal or 0x-prefixed hex`);
  }
  const v = BigInt(value);
  if (v >= 1n << 64n) throw new RangeError(`${what} ${value} does not fit in 64 bits`);
  return v;
}
