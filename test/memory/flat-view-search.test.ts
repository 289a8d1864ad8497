/**
 * The address searches of a FlatView (lookup, indexOf, firstEndingAfter,
 * firstStartingAfter, _chunkOfIndex) against linear scans of its ranges, on
 * random maps cut into chunks of 1..5 ranges so that every search crosses
 * chunk boundaries, and at the addresses where they can go wrong: each
 * range's first and last byte, the byte after it, gaps, 0 and 2^64-1.
 */
import { MemoryRegion, renderFlatView, UINT64_MAX } from '../../lib/memory';
import { setFlatChunkSize } from '../../lib/memory/flat-view';
import { prng } from '../helpers/prng';

describe('FlatView searches agree with linear scans', () => {
  for (const chunk of [1, 2, 5, 128]) {
    it(`chunks of ${chunk} range(s)`, () => {
      const was = setFlatChunkSize(chunk);
      try {
        for (let seed = 1; seed <= 20; seed++) {
          const rnd = prng(seed * 31 + chunk);
          const root = MemoryRegion.container('root', UINT64_MAX);
          let at = BigInt(rnd.int(3)) * 0x1000n;
          const n = rnd.int(40);
          for (let i = 0; i < n; i++) {
            const size = BigInt(1 + rnd.int(0x3000));
            root.addSubregion(at, MemoryRegion.io(`r${i}`, size));
            at += size + BigInt(rnd.int(3) === 0 ? 0 : rnd.int(0x2000)); // some touch, some leave gaps
          }
          const fv = renderFlatView(root);
          const ranges = fv.ranges;
          const probes = new Set<bigint>([0n, UINT64_MAX, at, at + 1n]);
          for (const r of ranges) for (const d of [-1n, 0n, 1n, r.size - 1n, r.size, r.size + 1n]) if (r.start + d >= 0n) probes.add(r.start + d);
          for (const a of probes) {
            const containing = ranges.findIndex((r) => r.start <= a && a < r.start + r.size);
            const ending = ranges.findIndex((r) => r.start + r.size > a);
            const starting = ranges.findIndex((r) => r.start > a);
            expect([a, fv.indexOf(a)]).toEqual([a, containing]);
            expect([a, fv.lookup(a)]).toEqual([a, containing < 0 ? undefined : ranges[containing]]);
            expect([a, fv.firstEndingAfter(a)]).toEqual([a, ending < 0 ? ranges.length : ending]);
            expect([a, fv.firstStartingAfter(a)]).toEqual([a, starting < 0 ? ranges.length : starting]);
          }
          for (let i = 0; i < ranges.length; i++) expect(fv._chunks[fv._chunkOfIndex(i)]).toContain(ranges[i]);
        }
      } finally {
        setFlatChunkSize(was);
      }
    });
  }
});
