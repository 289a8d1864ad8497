// The shared helpers of lib/util that the memory model's hot paths use.
import { compareAddresses, compareAscending } from '../../lib/util/compare';
import { lowerBound } from '../../lib/util/lower-bound';

describe('lowerBound', () => {
  const sorted = [1, 3, 3, 5, 8];
  it('is the first index where the predicate turns false', () => {
    for (let key = 0; key <= 9; key++) {
      const want = sorted.findIndex((v) => !(v <= key));
      expect(lowerBound(sorted.length, (i) => sorted[i] <= key)).toBe(want < 0 ? sorted.length : want);
    }
  });
  it('hands its extra arguments to the predicate', () => {
    const atOrBefore = (i: number, keys: readonly number[], key: number): boolean => keys[i] <= key;
    expect(lowerBound(sorted.length, atOrBefore, sorted, 3)).toBe(3);
    expect(lowerBound(sorted.length, atOrBefore, sorted, 0)).toBe(0);
    expect(lowerBound(sorted.length, atOrBefore, sorted, 8)).toBe(5);
  });
  it('is 0 for an empty (or negative) length', () => {
    expect(lowerBound(0, () => true)).toBe(0);
    expect(lowerBound(-1, () => true)).toBe(0);
  });
});

describe('compareAscending', () => {
  it('orders bigints beyond 2^53 exactly (no subtraction), numbers and strings', () => {
    expect([(1n << 64n) - 1n, 0n, (1n << 53n) + 1n, 1n << 53n].sort(compareAddresses)).toEqual([0n, 1n << 53n, (1n << 53n) + 1n, (1n << 64n) - 1n]);
    expect([3, -1, 2].sort(compareAscending)).toEqual([-1, 2, 3]);
    expect(['memory', 'I/O', 'cpu-memory-0'].sort(compareAscending)).toEqual(['I/O', 'cpu-memory-0', 'memory']);
    expect(compareAddresses(5n, 5n)).toBe(0);
  });
});
