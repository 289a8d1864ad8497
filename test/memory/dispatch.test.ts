/**
 * Host-side dispatch (semantics §8): access sizes, valid/impl, endianness,
 * ROM / ROM device, aliases, exceptions, in-place rw, host-dirty tracking.
 */
import { MemoryRegion, MemTxResult, RamList, TWO_64 } from '../../lib/memory';
import { dispatchMmio } from '../../lib/memory/dispatch';
import { cleanup, recordingOps, space, track } from './util';

afterEach(cleanup);

function at(addr: number, mr: MemoryRegion) {
  const root = MemoryRegion.container('system', TWO_64);
  root.addSubregion(addr, mr);
  return space(root);
}

describe('endianness', () => {
  test('little-endian device: lowest address = least significant byte', () => {
    const dev = recordingOps({ endianness: 'little' }, () => 0x44332211);
    const as = at(0x1000, MemoryRegion.io('le', 0x10, dev.ops));
    expect(Array.from(as.read(0x1000, 4).data)).toEqual([0x11, 0x22, 0x33, 0x44]);
    as.write(0x1000, [0xaa, 0xbb, 0xcc, 0xdd]);
    expect(dev.calls[1]).toEqual({ op: 'w', offset: 0n, size: 4, value: 0xddccbbaan });
  });

  test('big-endian device: lowest address = most significant byte', () => {
    const dev = recordingOps({ endianness: 'big' }, () => 0x11223344);
    const as = at(0x1000, MemoryRegion.io('be', 0x10, dev.ops));
    expect(Array.from(as.read(0x1000, 4).data)).toEqual([0x11, 0x22, 0x33, 0x44]);
    as.write(0x1000, [0xaa, 0xbb, 0xcc, 0xdd]);
    expect(dev.calls[1]).toEqual({ op: 'w', offset: 0n, size: 4, value: 0xaabbccddn });
  });

  test('big-endian device with impl.max 1: byte k of the buffer goes to offset k', () => {
    const dev = recordingOps({ endianness: 'big', impl: { maxAccessSize: 1 } }, (o) => 0x10 + Number(o));
    const as = at(0x1000, MemoryRegion.io('be1', 0x10, dev.ops));
    expect(Array.from(as.read(0x1000, 4).data)).toEqual([0x10, 0x11, 0x12, 0x13]);
    dev.calls.length = 0;
    as.write(0x1000, [0xaa, 0xbb]);
    expect(dev.calls).toEqual([
      { op: 'w', offset: 0n, size: 1, value: 0xaan },
      { op: 'w', offset: 1n, size: 1, value: 0xbbn },
    ]);
  });

  test('native endianness is little (x86 target)', () => {
    const dev = recordingOps({ endianness: 'native' }, () => 0x2211);
    const as = at(0, MemoryRegion.io('n', 0x10, dev.ops));
    expect(Array.from(as.read(0, 2).data)).toEqual([0x11, 0x22]);
  });
});

describe('access sizes', () => {
  test('64-bit accesses with valid/impl max 8 pass bigint values whole', () => {
    const dev = recordingOps({ valid: { maxAccessSize: 8 }, impl: { maxAccessSize: 8 } }, () => 0x1122334455667788n);
    const as = at(0x2000, MemoryRegion.io('q', 0x10, dev.ops));
    expect(Array.from(as.read(0x2000, 8).data)).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    as.write(0x2000, [1, 2, 3, 4, 5, 6, 7, 0xf8]);
    expect(dev.calls).toEqual([
      { op: 'r', offset: 0n, size: 8 },
      { op: 'w', offset: 0n, size: 8, value: 0xf807060504030201n },
    ]);
  });

  test('values keep every bit at each width: all-ones, the top bit, 6 and 7 bytes by direct dispatch, masked and negative reads', () => {
    const q = { valid: { maxAccessSize: 8 }, impl: { maxAccessSize: 8 } };
    for (const v of [0xffffffffffffffffn, 0x8000000000000000n, 0x0001000000000000n, 0x0000ffffffffffffn, 0xffffffffn, 0x80n]) {
      const dev = recordingOps(q, () => v);
      const as = at(0x2000, MemoryRegion.io('q', 0x10, dev.ops));
      const bytes = Array.from({ length: 8 }, (_, k) => Number((v >> BigInt(8 * k)) & 0xffn));
      expect(Array.from(as.read(0x2000, 8).data)).toEqual(bytes);
      as.write(0x2000, bytes);
      expect(dev.calls[1]).toEqual({ op: 'w', offset: 0n, size: 8, value: v });
    }
    // sizes 6 and 7 (a direct dispatchMmio caller; the dispatch makes powers of two), either side of a Number's 53 bits
    for (const size of [6, 7]) {
      const dev = recordingOps({ valid: { maxAccessSize: 8, unaligned: true }, impl: { maxAccessSize: 8 } }, () => 0xfedcba9876543210n);
      const mr = MemoryRegion.io('odd', 0x10, dev.ops);
      track(mr);
      const buf = new Uint8Array(size).fill(0xff);
      expect(dispatchMmio(mr, 0n, buf, 0, size, true)).toBe(MemTxResult.OK);
      expect(dev.calls[0]).toEqual({ op: 'w', offset: 0n, size, value: (1n << BigInt(8 * size)) - 1n });
      expect(dispatchMmio(mr, 0n, buf, 0, size, false)).toBe(MemTxResult.OK);
      expect(Array.from(buf)).toEqual([0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc].slice(0, size));
    }
    // a device value wider than the access is cut to it; a negative one wraps (C's uint64_t)
    for (const [value, size, bytes] of [[0x1ff, 1, [0xff]], [-1, 2, [0xff, 0xff]], [-2n, 4, [0xfe, 0xff, 0xff, 0xff]], [0x123456789, 4, [0x89, 0x67, 0x45, 0x23]]] as const) {
      const dev = recordingOps({ impl: { maxAccessSize: 4 } }, () => value);
      const as = at(0x3000, MemoryRegion.io('cut', 0x10, dev.ops));
      expect(Array.from(as.read(0x3000, size).data)).toEqual(bytes);
    }
  });

  test('default valid.max (0) splits at 4 bytes; impl.max 2 splits each into 2-byte callbacks', () => {
    const dev = recordingOps({ impl: { maxAccessSize: 2 } }, (o) => (o === 0n ? 0x2211 : o === 2n ? 0x4433 : o === 4n ? 0x6655 : 0x8877));
    const as = at(0, MemoryRegion.io('w', 0x10, dev.ops));
    const r = as.read(0, 8);
    expect(Array.from(r.data)).toEqual([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    expect(dev.calls.map((c) => [c.offset, c.size])).toEqual([[0n, 2], [2n, 2], [4n, 2], [6n, 2]]);
  });

  test('impl.min larger than the access: one wider access at the unaligned offset', () => {
    const dev = recordingOps({ impl: { minAccessSize: 4 } }, () => 0x44332211);
    const as = at(0, MemoryRegion.io('wide', 0x10, dev.ops));
    expect(Array.from(as.read(1, 1).data)).toEqual([0x11]);
    as.write(1, [0xab]);
    expect(dev.calls).toEqual([
      { op: 'r', offset: 1n, size: 4 },
      { op: 'w', offset: 1n, size: 4, value: 0xabn }, // zero-extended, no read-modify-write
    ]);
  });

  test('unaligned: split by the lowest set bit of the offset unless impl.unaligned', () => {
    const a = recordingOps({}, () => 0);
    const asA = at(0, MemoryRegion.io('a', 0x10, a.ops));
    asA.read(1, 4);
    expect(a.calls.map((c) => [c.offset, c.size])).toEqual([[1n, 1], [2n, 2], [4n, 1]]);
    cleanup();
    const b = recordingOps({ valid: { unaligned: true }, impl: { unaligned: true } }, () => 0);
    const asB = at(0, MemoryRegion.io('b', 0x10, b.ops));
    asB.read(1, 4);
    expect(b.calls.map((c) => [c.offset, c.size])).toEqual([[1n, 4]]);
  });

  test('valid.accepts rejecting an access: DECODE_ERROR, reads 0, no callback', () => {
    const dev = recordingOps({ valid: { accepts: (_o, _s, isWrite) => !isWrite } }, () => 0x7f);
    const as = at(0, MemoryRegion.io('ro-dev', 0x10, dev.ops));
    expect(as.read(0, 1)).toEqual({ data: Uint8Array.of(0x7f), result: MemTxResult.OK });
    expect(as.write(0, [1])).toBe(MemTxResult.DECODE_ERROR);
    expect(dev.calls.filter((c) => c.op === 'w')).toEqual([]);
  });

  test('zero-length access does nothing and succeeds', () => {
    const dev = recordingOps();
    const as = at(0, MemoryRegion.io('d', 0x10, dev.ops));
    expect(as.rw(0n, new Uint8Array(0), false)).toBe(MemTxResult.OK);
    expect(dev.calls).toEqual([]);
  });
});

describe('aliases, ROM devices, exceptions', () => {
  test('an MMIO region behind an alias gets alias_offset + delta', () => {
    const dev = recordingOps();
    const t = MemoryRegion.io('t', 0x10000, dev.ops);
    const as = at(0x100000, MemoryRegion.alias('win', t, 0x3000, 0x1000));
    as.read(0x100010, 1);
    expect(dev.calls).toEqual([{ op: 'r', offset: 0x3010n, size: 1 }]);
  });

  test('ROM device: reads from RAM in romd mode, writes always to ops; romd off sends reads to ops', () => {
    const dev = recordingOps({}, () => 0x99);
    const list = new RamList();
    const flash = track(MemoryRegion.romDevice('flash', 0x1000, dev.ops, { ramList: list }));
    flash.bytes()[0x10] = 0x5a;
    const as = at(0xfff00000, flash);
    expect(flash.typeName).toBe('romd');
    expect(as.read(0xfff00010, 1)).toEqual({ data: Uint8Array.of(0x5a), result: MemTxResult.OK });
    expect(as.write(0xfff00010, [0x01])).toBe(MemTxResult.OK);
    expect(dev.calls).toEqual([{ op: 'w', offset: 0x10n, size: 1, value: 1n }]);
    expect(flash.bytes()[0x10]).toBe(0x5a);
    flash.setRomdMode(false);
    expect(flash.typeName).toBe('i/o');
    expect(as.read(0xfff00010, 1).data[0]).toBe(0x99);
    expect(dev.calls[1]).toEqual({ op: 'r', offset: 0x10n, size: 1 });
    expect(as.formatFlatView()).toBe('00000000fff00000-00000000fff00fff (prio 0, i/o): flash\n');
    flash.setRomdMode(true);
    expect(as.formatFlatView()).toBe('00000000fff00000-00000000fff00fff (prio 0, romd): flash\n');
  });

  test('a throwing device callback propagates and the model stays usable', () => {
    let fail = true;
    const as = at(0, MemoryRegion.io('flaky', 0x10, {
      read: () => {
        if (fail) throw new Error('device exploded');
        return 7;
      },
    }));
    expect(() => as.read(0, 1)).toThrow('device exploded');
    fail = false;
    expect(as.read(0, 1)).toEqual({ data: Uint8Array.of(7), result: MemTxResult.OK });
  });

  test('a read callback returning a non-integer is a TypeError naming the region', () => {
    const as = at(0, MemoryRegion.io('bad-dev', 0x10, { read: () => 1.5 }));
    expect(() => as.read(0, 1)).toThrow(/bad-dev/);
  });
});

describe('RAM path', () => {
  test('rw works in place and marks host-dirty pages', () => {
    const list = new RamList();
    const ram = track(MemoryRegion.ram('ram', 0x10000, { ramList: list }));
    const as = at(0, ram);
    const buf = Uint8Array.of(1, 2, 3, 4);
    expect(as.rw(0x1ffen, buf, true)).toBe(MemTxResult.OK);
    const block = ram.ramBlock!;
    const dirty = block.takeHostDirty();
    expect(dirty.length).toBe(2); // 16 pages -> 2 bytes
    expect(Array.from(dirty)).toEqual([0b0110, 0]); // pages 1 and 2
    expect(Array.from(block.takeHostDirty())).toEqual([0, 0]);
    const out = new Uint8Array(4);
    expect(as.rw(0x1ffen, out, false)).toBe(MemTxResult.OK);
    expect(Array.from(out)).toEqual([1, 2, 3, 4]);
    // large copies take the subarray path
    const big = new Uint8Array(0x3000).fill(0xcd);
    expect(as.write(0x100, big)).toBe(MemTxResult.OK);
    expect(as.read(0x100, 0x3000).data.every((b) => b === 0xcd)).toBe(true);
    expect(block.isHostDirty(0x3000)).toBe(true);
  });

  test('RAM and then MMIO in one access: split at the RAM range end', () => {
    const list = new RamList();
    const ram = track(MemoryRegion.ram('ram', 0x1000, { ramList: list }));
    const dev = recordingOps({}, () => 0xee);
    const root = MemoryRegion.container('system', TWO_64);
    root.addSubregion(0, ram);
    root.addSubregion(0x1000, MemoryRegion.io('dev', 0x10, dev.ops));
    const as = space(root);
    ram.bytes()[0xfff] = 0x42;
    const r = as.read(0xfff, 2);
    expect(Array.from(r.data)).toEqual([0x42, 0xee]);
    expect(dev.calls).toEqual([{ op: 'r', offset: 0n, size: 1 }]);
  });

  test('the host address follows the alias chain', () => {
    const list = new RamList();
    const ram = track(MemoryRegion.ram('ram', 0x10000, { ramList: list }));
    const a1 = MemoryRegion.alias('a1', ram, 0x1000, 0x8000);
    const a2 = MemoryRegion.alias('a2', a1, 0x200, 0x100);
    expect(a2.hostAddress(0x10n)).toBe(ram.ramBlock!.hostAddress + 0x1210n);
    expect(a2.ramAddr(0n)).toBe(ram.ramBlock!.offset + 0x1200n);
    expect(a2.ramBlock).toBeNull();
    expect(() => MemoryRegion.io('x', 0x10).hostAddress(0n)).toThrow(/no RAM block/);
  });
});
