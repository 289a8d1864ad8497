// Comparators for Array.prototype.sort. Each type has its own function body
// on purpose: one generic comparator called with bigints here and strings
// there becomes megamorphic, and render's sort of 100,000 ranges ran at half
// speed through it.

/** Ascending order of two guest addresses (a subtraction would not fit a sort's number result). */
export function compareAddresses(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Ascending order of two numbers, or of two strings in UTF-16 code-unit order (C's strcmp on ASCII names). */
export function compareAscending<T extends number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
