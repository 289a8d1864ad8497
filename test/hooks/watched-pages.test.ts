// WatchedPages (lib/kvm/watched-pages.ts): overlapping and adjacent watches
// merge; carving keeps untouched chunks as they are and shifts the pieces'
// host addresses and block pages with their guest addresses.
import type { RamBlock } from '../../lib/memory/ram-block';
import { rangeKey, type Chunk } from '../../lib/kvm/slot-chunks';
import { pagesCovering, WatchedPages } from '../../lib/kvm/watched-pages';

const block = {} as RamBlock;
const chunk = (gpa: bigint, size: bigint): Chunk => ({ key: rangeKey(gpa, size), gpa, size, ua: 0x7000_0000_0000n + gpa, flags: 1, block, blockPage: Number(gpa >> 12n), region: 'ram' });

test('pagesCovering rounds an inclusive byte range out to whole pages (up to 2^64)', () => {
  expect(pagesCovering(0x1001n, 0x1001n)).toEqual({ start: 0x1000n, end: 0x2000n });
  expect(pagesCovering(0xfffn, 0x1000n)).toEqual({ start: 0n, end: 0x2000n });
  expect(pagesCovering((1n << 64n) - 1n, (1n << 64n) - 1n)).toEqual({ start: (1n << 64n) - 0x1000n, end: 1n << 64n });
});

test('carve cuts the union of the watches out of chunks; removing a watch gives its pages back', () => {
  const w = new WatchedPages();
  expect(w.empty).toBe(true);
  const a = { start: 0x3000n, end: 0x5000n };
  const b = { start: 0x4000n, end: 0x6000n }; // overlaps a
  const c = { start: 0x6000n, end: 0x7000n }; // adjacent to b
  for (const x of [a, b, c]) w.add(x);
  const untouched = chunk(0x10000n, 0x1000n);
  const out = w.carve([chunk(0n, 0x8000n), untouched], 0);
  expect(out.chunks.map((k) => [k.key, k.ua - 0x7000_0000_0000n, k.blockPage])).toEqual([['0+3000', 0n, 0], ['7000+1000', 0x7000n, 7], ['10000+1000', 0x10000n, 16]]);
  expect(out.chunks[2]).toBe(untouched);
  expect(out.watched).toEqual([{ start: 0x3000n, size: 0x4000n, reason: 'watched', asId: 0, region: 'ram' }]);
  expect(w.remove(b)).toBe(true);
  expect(w.remove(b)).toBe(false);
  expect(w.cut(0n, 0x8000n)).toEqual({
    kept: [{ start: 0n, end: 0x3000n }, { start: 0x5000n, end: 0x6000n }, { start: 0x7000n, end: 0x8000n }],
    watched: [{ start: 0x3000n, end: 0x5000n }, { start: 0x6000n, end: 0x7000n }],
  });
  w.remove(a);
  w.remove(c);
  expect(w.empty).toBe(true);
  expect(w.carve([chunk(0n, 0x8000n)], 0).watched).toEqual([]);
});
