// WatchedPages (lib/kvm/watched-pages.ts): overlapping and adjacent watches
// merge; carving keeps untouched chunks as they are, shifts the pieces' host
// addresses and block pages with their guest addresses, gives write-watched
// pages read-only pieces (trapped without read-only slots), and the
// strongest watch of a page wins.
import type { RamBlock } from '../../lib/memory/ram-block';
import { rangeKey, type Chunk } from '../../lib/kvm/slot-chunks';
import { pagesCovering, WatchedPages } from '../../lib/kvm/watched-pages';

const block = {} as RamBlock;
const UA = 0x7000_0000_0000n;
const chunk = (gpa: bigint, size: bigint, flags = 1): Chunk => ({ key: rangeKey(gpa, size), gpa, size, ua: UA + gpa, flags, block, blockPage: Number(gpa >> 12n), region: 'ram' });
const shape = (cs: Chunk[]) => cs.map((k) => [k.key, k.ua - UA, k.blockPage, k.flags]);
const watched = (start: bigint, size: bigint) => ({ start, size, reason: 'watched', asId: 0, region: 'ram' });

test('pagesCovering rounds an inclusive byte range out to whole pages (up to 2^64)', () => {
  expect(pagesCovering(0x1001n, 0x1001n)).toEqual({ start: 0x1000n, end: 0x2000n, writesOnly: false });
  expect(pagesCovering(0xfffn, 0x1000n, true)).toEqual({ start: 0n, end: 0x2000n, writesOnly: true });
  expect(pagesCovering((1n << 64n) - 1n, (1n << 64n) - 1n)).toEqual({ start: (1n << 64n) - 0x1000n, end: 1n << 64n, writesOnly: false });
});

test('carve cuts the union of the watches out of chunks; removing a watch gives its pages back', () => {
  const w = new WatchedPages();
  expect(w.empty).toBe(true);
  const a = { start: 0x3000n, end: 0x5000n, writesOnly: false };
  const b = { start: 0x4000n, end: 0x6000n, writesOnly: false }; // overlaps a
  const c = { start: 0x6000n, end: 0x7000n, writesOnly: false }; // adjacent to b
  for (const x of [a, b, c]) w.add(x);
  const untouched = chunk(0x10000n, 0x1000n);
  const out = w.carve([chunk(0n, 0x8000n), untouched], 0, true);
  expect(shape(out.chunks)).toEqual([['0+3000', 0n, 0, 1], ['7000+1000', 0x7000n, 7, 1], ['10000+1000', 0x10000n, 16, 1]]);
  expect(out.chunks[2]).toBe(untouched);
  expect(out.watched).toEqual([watched(0x3000n, 0x4000n)]);
  expect(w.remove(b)).toBe(true);
  expect(w.remove(b)).toBe(false);
  expect(w.carve([chunk(0n, 0x8000n)], 0, true).watched).toEqual([watched(0x3000n, 0x2000n), watched(0x6000n, 0x1000n)]);
  w.remove(a);
  w.remove(c);
  expect(w.empty).toBe(true);
  expect(w.carve([chunk(0n, 0x8000n)], 0, true)).toEqual({ chunks: [chunk(0n, 0x8000n)], watched: [] });
});

test('write watches give read-only pieces (trapped without KVM_CAP_READONLY_MEM); a watch of every access wins; ROM is not cut', () => {
  const w = new WatchedPages();
  w.add({ start: 0x2000n, end: 0x6000n, writesOnly: true });
  w.add({ start: 0x3000n, end: 0x4000n, writesOnly: false });
  const out = w.carve([chunk(0n, 0x8000n)], 0, true);
  expect(shape(out.chunks)).toEqual([['0+2000', 0n, 0, 1], ['2000+1000', 0x2000n, 2, 3], ['4000+2000', 0x4000n, 4, 3], ['6000+2000', 0x6000n, 6, 1]]);
  expect(out.watched).toEqual([watched(0x3000n, 0x1000n)]);
  const noRo = w.carve([chunk(0n, 0x8000n)], 0, false);
  expect(shape(noRo.chunks)).toEqual([['0+2000', 0n, 0, 1], ['6000+2000', 0x6000n, 6, 1]]);
  expect(noRo.watched).toEqual([watched(0x2000n, 0x1000n), watched(0x3000n, 0x1000n), watched(0x4000n, 0x2000n)]);
  const rom = chunk(0x4000n, 0x1000n, 2);
  expect(w.carve([rom], 0, true).chunks[0]).toBe(rom);
});
