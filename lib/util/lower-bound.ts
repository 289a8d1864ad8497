// Binary search over a sorted sequence given by index.

/**
 * The first index in [0, length) for which `before(i, a, b)` is false, or
 * `length` if there is none; `before` must be true for a prefix of the
 * indices and false for the rest (C++'s std::partition_point).
 *
 * `a` and `b` are handed to `before` as they are: on a hot path, pass the
 * array and the key there and `before` as a function declared once at module
 * level, rather than a closure over them, which would be allocated (with its
 * context) on every call.
 */
export function lowerBound<A = undefined, B = undefined>(
  length: number, before: (index: number, a: A, b: B) => boolean, a?: A, b?: B,
): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid, a as A, b as B)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
