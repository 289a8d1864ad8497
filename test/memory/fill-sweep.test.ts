/**
 * FillSweep (render's gap filling) against a per-address reference: fills
 * given in render order, every address goes to the first window holding it,
 * and ranges() returns each window's maximal runs as FlatRanges, in address
 * order.  Windows sit where Number keys stop being exact (2^53, where
 * doubles step by 2, and just below 2^64, where they step by 4096), so every
 * tie between rounded keys has to be settled by the bigints; the orders
 * cover the sweep's three ways to sort (ascending, descending, radix).
 */
import fc from 'fast-check';
import { FillSweep } from '../../lib/memory/fill-sweep';
import { MemoryRegion, TWO_64 } from '../../lib/memory';

const SPAN = 0x60;

interface Piece {
  window: number;
  start: bigint;
  end: bigint;
}

/** QEMU's fills one after the other: each window gets the runs nothing before it covered */
function reference(base: bigint, windows: readonly (readonly [number, number])[], span = SPAN): Piece[] {
  const owner: number[] = new Array(span).fill(-1);
  windows.forEach(([s, e], w) => {
    for (let a = s; a < e; a++) if (owner[a] < 0) owner[a] = w;
  });
  const pieces: Piece[] = [];
  for (let a = 0; a < span; a++) {
    if (owner[a] < 0) continue;
    const last = pieces[pieces.length - 1];
    if (last !== undefined && last.window === owner[a] && last.end === base + BigInt(a)) last.end += 1n;
    else pieces.push({ window: owner[a], start: base + BigInt(a), end: base + BigInt(a + 1) });
  }
  return pieces;
}

function sweep(base: bigint, windows: readonly (readonly [number, number])[], regions: MemoryRegion[]): Piece[] {
  const fills = new FillSweep();
  windows.forEach(([s, e], w) => fills.add(regions[w], base, base + BigInt(s), base + BigInt(e), false, false, false));
  const index = new Map(regions.map((mr, i) => [mr, i]));
  return fills.ranges().map((r) => {
    expect(r.offsetInRegion).toBe(r.start - base);
    return { window: index.get(r.mr)!, start: r.start, end: r.start + r.size };
  });
}

const window = fc.tuple(fc.integer({ min: 0, max: SPAN - 1 }), fc.integer({ min: 1, max: 0x20 }))
  .map(([s, len]) => [s, Math.min(s + len, SPAN)] as const);

describe('FillSweep', () => {
  const regions = Array.from({ length: 60 }, (_, i) => MemoryRegion.io(`w${i}`, TWO_64));

  test.each([
    ['0', 0n],
    ['2^53 - 0x30', 2n ** 53n - 0x30n],
    ['2^64 - 0x60', TWO_64 - BigInt(SPAN)],
  ])('near %s every address goes to the first window holding it, in address order', (_name, base) => {
    fc.assert(fc.property(
      fc.array(window, { minLength: 1, maxLength: 60 }),
      fc.constantFrom('as drawn', 'ascending', 'descending'),
      (drawn, order) => {
        const windows = order === 'as drawn' ? drawn : drawn.slice().sort((a, b) => (order === 'ascending' ? a[0] - b[0] : b[0] - a[0]));
        expect(sweep(base, windows, regions)).toEqual(reference(base, windows));
      },
    ), { numRuns: 300 });
  });

  test('thousands of windows (several blocks of records, the radix sort) near 2^53', () => {
    const span = 40000;
    const many = Array.from({ length: 5000 }, (_, i) => MemoryRegion.io(`m${i}`, TWO_64));
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: span - 1 }), fc.integer({ min: 1, max: 40 })), { minLength: 3000, maxLength: 5000 }),
      (drawn) => {
        const windows = drawn.map(([s, len]) => [s, Math.min(s + len, span)] as const);
        const base = 2n ** 53n - 20000n;
        expect(sweep(base, windows, many)).toEqual(reference(base, windows, span));
      },
    ), { numRuns: 4 });
  });

  test('a window up to 2^64 next to one ending one byte below it stays two pieces', () => {
    const windows = [[0x1000, 0x1fff], [0, 0x2000]] as const;
    expect(sweep(TWO_64 - 0x2000n, windows, regions)).toEqual([
      { window: 1, start: TWO_64 - 0x2000n, end: TWO_64 - 0x1000n },
      { window: 0, start: TWO_64 - 0x1000n, end: TWO_64 - 1n },
      { window: 1, start: TWO_64 - 1n, end: TWO_64 },
    ]);
  });

  test('a whole window keeps the region\'s own size; a cut one gets its offset and length', () => {
    const mr = MemoryRegion.io('dev', 0x1000);
    const fills = new FillSweep();
    fills.add(regions[0], 0n, 0x1800n, 0x2000n, false, true, false);
    fills.add(mr, 0x1000n, 0x1000n, 0x2000n, true, false, true);
    fills.add(mr, 0x3000n, 0x3000n, 0x4000n, true, false, false);
    const got = fills.ranges();
    expect(got.map((r) => [r.mr.name, r.start, r.size, r.offsetInRegion, r.readonly, r.nonvolatile])).toEqual([
      ['dev', 0x1000n, 0x800n, 0n, false, true],
      ['w0', 0x1800n, 0x800n, 0x1800n, true, false],
      ['dev', 0x3000n, 0x1000n, 0n, false, false],
    ]);
    expect(got[2].size).toBe(mr.size);
  });

  test('no windows, no ranges', () => {
    expect(new FillSweep().ranges()).toEqual([]);
  });
});
