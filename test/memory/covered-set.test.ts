/**
 * CoveredSet (render's covered address space) against a per-address
 * reference: every fill returns exactly the uncovered runs of its window, in
 * ascending order, and inOrder lists all pieces by address.  Windows sit
 * where Number keys stop being exact (2^53, where doubles step by 2, and
 * just below 2^64, where they step by 4096), so every tie between rounded
 * keys has to be settled by the bigints.
 */
import fc from 'fast-check';
import { CoveredSet } from '../../lib/memory/covered-set';
import { TWO_64 } from '../../lib/memory';

const SPAN = 0x60;

/** the uncovered runs of [s, e) given the covered offsets (relative to base), as [start, end) pairs */
function uncoveredRuns(covered: Set<number>, base: bigint, s: number, e: number): bigint[] {
  const runs: bigint[] = [];
  let runStart = -1;
  for (let a = s; a <= e; a++) {
    const free = a < e && !covered.has(a);
    if (free && runStart < 0) runStart = a;
    if (!free && runStart >= 0) {
      runs.push(base + BigInt(runStart), base + BigInt(a));
      runStart = -1;
    }
  }
  return runs;
}

describe('CoveredSet', () => {
  test.each([
    ['0', 0n],
    ['2^53 - 0x30', 2n ** 53n - 0x30n],
    ['2^64 - 0x60', TWO_64 - BigInt(SPAN)],
  ])('fills near %s return exactly the uncovered runs, and inOrder sorts the pieces', (_name, base) => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: SPAN - 1 }), fc.integer({ min: 1, max: 0x20 })), { minLength: 1, maxLength: 40 }),
      (windows) => {
        const set = new CoveredSet();
        const covered = new Set<number>();
        const all: bigint[][] = [];
        for (const [s, len] of windows) {
          const e = Math.min(s + len, SPAN);
          const want = uncoveredRuns(covered, base, s, e);
          const scratch: bigint[] = [];
          const got = scratch.slice(0, set.fill(base + BigInt(s), base + BigInt(e), scratch));
          expect(got).toEqual(want);
          for (let i = 0; i < got.length; i += 2) all.push([got[i], got[i + 1]]);
          for (let a = s; a < e; a++) covered.add(a);
        }
        const sorted = all.slice().sort((x, y) => (x[0] < y[0] ? -1 : 1));
        expect(set.inOrder(all)).toEqual(sorted);
      },
    ), { numRuns: 300 });
  });

  test('a window up to 2^64 next to one ending one byte below it stays two pieces', () => {
    const set = new CoveredSet();
    const out: bigint[] = [];
    expect(set.fill(TWO_64 - 0x1000n, TWO_64 - 1n, out)).toBe(2);
    expect(out).toEqual([TWO_64 - 0x1000n, TWO_64 - 1n]);
    // the second window's pieces overwrite the scratch from index 0
    expect(set.fill(TWO_64 - 0x2000n, TWO_64, out)).toBe(4);
    expect(out).toEqual([TWO_64 - 0x2000n, TWO_64 - 0x1000n, TWO_64 - 1n, TWO_64]);
    expect(set.inOrder(['a', 'b', 'c'])).toEqual(['b', 'a', 'c']);
  });
});
