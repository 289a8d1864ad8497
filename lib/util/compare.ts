// Comparators for Array.prototype.sort.

/**
 * Ascending order of two values of one primitive type: numeric for bigints
 * and numbers (a subtraction would not fit a sort's number result for
 * bigints), UTF-16 code-unit order for strings (C's strcmp on ASCII names).
 */
export function compareAscending<T extends bigint | number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Ascending order of two guest addresses. */
export const compareAddresses: (a: bigint, b: bigint) => number = compareAscending;
