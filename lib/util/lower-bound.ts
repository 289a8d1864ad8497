// Binary search over a sorted sequence given by index.

/**
 * The first index in [0, length) for which `before(i)` is false, or `length`
 * if there is none; `before` must be true for a prefix of the indices and
 * false for the rest (C++'s std::partition_point).
 */
export function lowerBound(length: number, before: (index: number) => boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
