/**
 * Edge cases of section 9 of the semantics document (1-16, 26-29; the KVM
 * ones 17-25 belong to the listener tests).  Expected values are QEMU 7.2's
 * documented / observed results.
 */
import {
  MemoryRegion, MemoryRegionError, MemTxResult, RamList, TWO_64, UINT64_MAX, UNASSIGNED_IO_OPS,
} from '../../lib/memory';
import { cleanup, flat, recordingOps, space, track, tree } from './util';

afterEach(cleanup);

const sys = (size: bigint = TWO_64) => MemoryRegion.container('system', size);

describe('§9.1 equal priority: last added wins', () => {
  test('later-added is visible; re-adding or setAddress flips; setEnabled does not reorder', () => {
    const root = sys();
    const a = MemoryRegion.io('a', 0x1000);
    const b = MemoryRegion.io('b', 0x1000);
    root.addSubregionOverlap(0x1000, a, 1);
    root.addSubregionOverlap(0x1000, b, 1);
    const as = space(root);
    expect(flat(as)).toEqual(['0000000000001000-0000000000001fff (prio 1, i/o): b']);

    root.removeSubregion(a);
    root.addSubregionOverlap(0x1000, a, 1);
    expect(flat(as)).toEqual(['0000000000001000-0000000000001fff (prio 1, i/o): a']);

    // set_address re-adds: b becomes newest again
    b.setAddress(0x2000);
    b.setAddress(0x1000);
    expect(flat(as)).toEqual(['0000000000001000-0000000000001fff (prio 1, i/o): b']);

    // disabling only hides; enabling again restores b (its list position is unchanged)
    b.setEnabled(false);
    expect(flat(as)).toEqual(['0000000000001000-0000000000001fff (prio 1, i/o): a']);
    b.setEnabled(true);
    expect(flat(as)).toEqual(['0000000000001000-0000000000001fff (prio 1, i/o): b']);
    // and enabling/disabling a (the older one) never makes it win
    a.setEnabled(false);
    a.setEnabled(true);
    expect(flat(as)).toEqual(['0000000000001000-0000000000001fff (prio 1, i/o): b']);
  });

  test('setAddress keeps the priority; a higher priority still wins over a newer lower one', () => {
    const root = sys();
    const hi = MemoryRegion.io('hi', 0x1000);
    const lo = MemoryRegion.io('lo', 0x1000);
    root.addSubregionOverlap(0, hi, 2);
    root.addSubregionOverlap(0x1000, lo, 1);
    lo.setAddress(0);
    expect(lo.priority).toBe(1);
    const as = space(root);
    expect(flat(as)).toEqual(['0000000000000000-0000000000000fff (prio 2, i/o): hi']);
  });
});

describe('§9.2 the memory.rst example', () => {
  function build(bTerminates: boolean) {
    const A = MemoryRegion.container('A', 0x8000);
    const C = MemoryRegion.io('C', 0x6000);
    const B = bTerminates ? MemoryRegion.io('B', 0x4000) : MemoryRegion.container('B', 0x4000);
    const D = MemoryRegion.io('D', 0x1000);
    const E = MemoryRegion.io('E', 0x1000);
    A.addSubregionOverlap(0, C, 1);
    A.addSubregionOverlap(0x2000, B, 2);
    B.addSubregion(0, D);
    B.addSubregion(0x2000, E);
    return space(A);
  }

  test('container with holes: the lower-priority sibling shows through with @offset', () => {
    expect(flat(build(false))).toEqual([
      '0000000000000000-0000000000001fff (prio 1, i/o): C',
      '0000000000002000-0000000000002fff (prio 0, i/o): D',
      '0000000000003000-0000000000003fff (prio 1, i/o): C @0000000000003000',
      '0000000000004000-0000000000004fff (prio 0, i/o): E',
      '0000000000005000-0000000000005fff (prio 1, i/o): C @0000000000005000',
    ]);
  });

  test('terminating B fills its own holes', () => {
    expect(flat(build(true))).toEqual([
      '0000000000000000-0000000000001fff (prio 1, i/o): C',
      '0000000000002000-0000000000002fff (prio 0, i/o): D',
      '0000000000003000-0000000000003fff (prio 2, i/o): B @0000000000001000',
      '0000000000004000-0000000000004fff (prio 0, i/o): E',
      '0000000000005000-0000000000005fff (prio 2, i/o): B @0000000000003000',
    ]);
  });
});

test('§9.3 partially hidden region: FlatRange name @<hidden length>', () => {
  const root = sys();
  const ram = track(MemoryRegion.ram('pc.ram', 0x7f80000));
  const pci = MemoryRegion.container('pci', TWO_64);
  const m1 = track(MemoryRegion.ram('m1', 0x100000));
  root.addSubregion(0, ram);
  root.addSubregionOverlap(0, pci, -1);
  pci.addSubregionOverlap(0x7f00000, m1, 1);
  const as = space(root);
  expect(flat(as)).toEqual([
    '0000000000000000-0000000007f7ffff (prio 0, ram): pc.ram',
    '0000000007f80000-0000000007ffffff (prio 1, ram): m1 @0000000000080000',
  ]);
});

describe('§9.4/9.5 PAM: merging across aliases, readonly splits', () => {
  function pc() {
    const root = sys();
    const ram = track(MemoryRegion.ram('pc.ram', 0x200000));
    const below = MemoryRegion.alias('ram-below-4g', ram, 0, 0x200000);
    const pci = MemoryRegion.container('pci', TWO_64);
    root.addSubregion(0, below);
    root.addSubregionOverlap(0, pci, -1);
    const pamRam = MemoryRegion.alias('pam-ram', ram, 0xf0000, 0x10000);
    const pamRom = MemoryRegion.alias('pam-rom', ram, 0xf0000, 0x10000);
    pamRom.setReadonly(true);
    pamRam.setEnabled(false);
    pamRom.setEnabled(false);
    root.addSubregionOverlap(0xf0000, pamRam, 1);
    root.addSubregionOverlap(0xf0000, pamRom, 1);
    return { as: space(root), pamRam, pamRom };
  }

  test('RW: the pam-ram alias merges with ram-below-4g into one range', () => {
    const { as, pamRam } = pc();
    pamRam.setEnabled(true);
    expect(flat(as)).toEqual(['0000000000000000-00000000001fffff (prio 0, ram): pc.ram']);
    expect(as.sections()).toHaveLength(1);
  });

  test('RE: the readonly path stays separate and prints rom', () => {
    const { as, pamRom } = pc();
    pamRom.setEnabled(true);
    expect(flat(as)).toEqual([
      '0000000000000000-00000000000effff (prio 0, ram): pc.ram',
      '00000000000f0000-00000000000fffff (prio 0, rom): pc.ram @00000000000f0000',
      '0000000000100000-00000000001fffff (prio 0, ram): pc.ram @0000000000100000',
    ]);
    expect(as.flatView()[1].readonly).toBe(true);
  });
});

describe('§9.6 alias offsets', () => {
  test('target offset = alias_offset + (gpa - alias start); target addr does not matter', () => {
    const root = sys();
    const elsewhere = MemoryRegion.container('elsewhere', 0x100000);
    const t = MemoryRegion.io('t', 0x10000);
    elsewhere.addSubregion(0x5000, t); // t has addr 0x5000, which aliasing ignores
    const a = MemoryRegion.alias('a', t, 0x2000, 0x1000);
    root.addSubregion(0x40000, a);
    const as = space(root);
    expect(flat(as)).toEqual(['0000000000040000-0000000000040fff (prio 0, i/o): t @0000000000002000']);
    a.setAliasOffset(0x3000);
    expect(flat(as)).toEqual(['0000000000040000-0000000000040fff (prio 0, i/o): t @0000000000003000']);
  });

  test('a disabled target contributes nothing (holes)', () => {
    const root = sys();
    const t = MemoryRegion.io('t', 0x10000);
    root.addSubregion(0x40000, MemoryRegion.alias('a', t, 0x2000, 0x1000));
    const as = space(root);
    t.setEnabled(false);
    expect(flat(as)).toEqual([]);
  });

  test('an alias longer than its target renders only the part that exists', () => {
    const root = sys();
    const t = MemoryRegion.io('t', 0x1000);
    root.addSubregion(0x10000, MemoryRegion.alias('long', t, 0x800, 0x10000));
    const as = space(root);
    expect(flat(as)).toEqual(['0000000000010000-00000000000107ff (prio 0, i/o): t @0000000000000800']);
    expect(tree(as)).toEqual([
      '  0000000000000000-ffffffffffffffff (prio 0, i/o): system',
      '    0000000000010000-000000000001ffff (prio 0, i/o): alias long @t 0000000000000800-00000000000107ff',
    ]);
  });
});

describe('§9.7 subregions of aliases; double parents', () => {
  test('a subregion added to an alias is printed but not rendered', () => {
    const root = sys();
    const t = MemoryRegion.io('t', 0x1000);
    const win = MemoryRegion.alias('win', t, 0, 0x1000);
    win.addSubregionOverlap(0, MemoryRegion.io('ignored', 0x100), 10);
    root.addSubregion(0x1000, win);
    const as = space(root);
    expect(flat(as)).toEqual(['0000000000001000-0000000000001fff (prio 0, i/o): t']);
    expect(tree(as)).toEqual([
      '  0000000000000000-ffffffffffffffff (prio 0, i/o): system',
      '    0000000000001000-0000000000001fff (prio 0, i/o): alias win @t 0000000000000000-0000000000000fff',
      '      0000000000001000-00000000000010ff (prio 10, i/o): ignored',
    ]);
  });

  test('adding a region that already has a container is refused (use an alias)', () => {
    const a = MemoryRegion.container('a', 0x1000);
    const b = MemoryRegion.container('b', 0x1000);
    const c = MemoryRegion.io('c', 0x10);
    a.addSubregion(0, c);
    expect(() => b.addSubregion(0, c)).toThrow(MemoryRegionError);
    expect(() => b.addSubregion(0, c)).toThrow(/alias/);
    expect(c.container).toBe(a);
    expect(b.subregions).toHaveLength(0);
  });
});

describe('§9.8 sizes UINT64_MAX and 0', () => {
  test('UINT64_MAX is stored as 2^64, printed ...ffff, reported back as UINT64_MAX', () => {
    const r = MemoryRegion.container('all', UINT64_MAX);
    expect(r.size).toBe(TWO_64);
    expect(r.sizeU64).toBe(UINT64_MAX);
    const io = MemoryRegion.io('whole', UINT64_MAX);
    r.addSubregion(0, io);
    const as = space(r);
    expect(tree(as)[0]).toBe('  0000000000000000-ffffffffffffffff (prio 0, i/o): all');
    expect(flat(as)).toEqual(['0000000000000000-ffffffffffffffff (prio 0, i/o): whole']);
    r.setSize(0x1000);
    r.setSize(UINT64_MAX);
    expect(r.size).toBe(TWO_64);
  });

  test('size 0 is never rendered and prints X-X', () => {
    const root = sys();
    const z = MemoryRegion.io('zero', 0);
    z.addSubregion(0, MemoryRegion.io('child', 0x10)); // a zero-size region clips its children away
    root.addSubregion(0x1234, z);
    const as = space(root);
    expect(flat(as)).toEqual([]);
    expect(tree(as)[1]).toBe('    0000000000001234-0000000000001234 (prio 0, i/o): zero');
  });
});

test('§9.9 disabled container: absent from the FlatView; without -D its children print one level deeper', () => {
  const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  const pm = MemoryRegion.io('piix4-pm', 0x40);
  pm.addSubregion(0, MemoryRegion.io('acpi-evt', 4));
  pm.addSubregion(4, MemoryRegion.io('acpi-cnt', 2));
  pm.addSubregion(8, MemoryRegion.io('acpi-tmr', 4));
  pm.setEnabled(false);
  // same add order as QEMU's pc machine: equal addr and priority print in list order (newest first)
  io.addSubregion(0, MemoryRegion.io('dma-chan', 8));
  io.addSubregion(0, pm);
  const as = space(io, 'I/O');
  expect(tree(as, true)).toEqual([
    '  0000000000000000-000000000000ffff (prio 0, i/o): io',
    '    0000000000000000-000000000000003f (prio 0, i/o): piix4-pm [disabled]',
    '      0000000000000000-0000000000000003 (prio 0, i/o): acpi-evt',
    '      0000000000000004-0000000000000005 (prio 0, i/o): acpi-cnt',
    '      0000000000000008-000000000000000b (prio 0, i/o): acpi-tmr',
    '    0000000000000000-0000000000000007 (prio 0, i/o): dma-chan',
  ]);
  expect(tree(as, false)).toEqual([
    '  0000000000000000-000000000000ffff (prio 0, i/o): io',
    '      0000000000000000-0000000000000003 (prio 0, i/o): acpi-evt',
    '      0000000000000004-0000000000000005 (prio 0, i/o): acpi-cnt',
    '      0000000000000008-000000000000000b (prio 0, i/o): acpi-tmr',
    '    0000000000000000-0000000000000007 (prio 0, i/o): dma-chan',
  ]);
  expect(flat(as)).toEqual([
    '0000000000000000-0000000000000007 (prio 0, i/o): dma-chan',
    '0000000000000008-000000000000ffff (prio 0, i/o): io @0000000000000008',
  ]);
});

describe('§9.10 gaps and reservations', () => {
  test('I/O gaps render as io @gap and read all-ones; memory gaps have no range and read 0 with DECODE_ERROR', () => {
    const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
    io.addSubregion(0x20, MemoryRegion.io('kvm-pic', 2)); // reservation
    const ios = space(io, 'I/O');
    expect(flat(ios)).toEqual([
      '0000000000000000-000000000000001f (prio 0, i/o): io',
      '0000000000000020-0000000000000021 (prio 0, i/o): kvm-pic',
      '0000000000000022-000000000000ffff (prio 0, i/o): io @0000000000000022',
    ]);
    expect(ios.read(0x10, 1)).toEqual({ data: Uint8Array.of(0xff), result: MemTxResult.OK });
    expect(ios.read(0x40, 4)).toEqual({ data: Uint8Array.of(0xff, 0xff, 0xff, 0xff), result: MemTxResult.OK });
    // reservation: 0 + DECODE_ERROR
    expect(ios.read(0x20, 1)).toEqual({ data: Uint8Array.of(0), result: MemTxResult.DECODE_ERROR });

    const mem = space(sys(), 'memory');
    expect(flat(mem)).toEqual([]);
    const r = mem.read(0xd0000000, 8);
    expect(r.result).toBe(MemTxResult.DECODE_ERROR);
    expect(Array.from(r.data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(mem.write(0xd0000000, [1, 2, 3, 4])).toBe(MemTxResult.DECODE_ERROR);
  });
});

test('§9.11 an MMIO access wider than the first region goes whole to the first region (0xcf8)', () => {
  const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  const idx = recordingOps({}, () => 0x80000058);
  const rst = recordingOps({ impl: { maxAccessSize: 1 } }, () => 0);
  io.addSubregion(0xcf8, MemoryRegion.io('pci-conf-idx', 4, idx.ops));
  io.addSubregionOverlap(0xcf9, MemoryRegion.io('piix3-reset-control', 1, rst.ops), 1);
  const as = space(io, 'I/O');
  const r = as.read(0xcf8, 4);
  expect(idx.calls).toEqual([{ op: 'r', offset: 0n, size: 4 }]);
  expect(rst.calls).toEqual([]);
  expect(Array.from(r.data)).toEqual([0x58, 0, 0, 0x80]);
  expect(r.result).toBe(MemTxResult.OK);
});

test('§9.12 impl.max_access_size=1 read with 2 bytes: two callbacks, the second beyond the region', () => {
  const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  const rst = recordingOps({ impl: { maxAccessSize: 1 } }, (o) => (o === 0n ? 0x12 : 0x34));
  io.addSubregion(0xcf8, MemoryRegion.io('pci-conf-idx', 4));
  io.addSubregionOverlap(0xcf9, MemoryRegion.io('piix3-reset-control', 1, rst.ops), 1);
  const as = space(io, 'I/O');
  const r = as.read(0xcf9, 2);
  expect(rst.calls).toEqual([{ op: 'r', offset: 0n, size: 1 }, { op: 'r', offset: 1n, size: 1 }]);
  expect(Array.from(r.data)).toEqual([0x12, 0x34]);
});

describe('§9.13 valid 4..4 device (HPET)', () => {
  function hpet() {
    const root = sys();
    const dev = recordingOps({ valid: { minAccessSize: 4, maxAccessSize: 4 } }, (o) => (o === 0n ? 0x11111111 : 0x22222222));
    root.addSubregion(0xfed00000, MemoryRegion.io('hpet', 0x400, dev.ops));
    return { as: space(root), calls: dev.calls };
  }

  test('8-byte read: two 4-byte callbacks', () => {
    const { as, calls } = hpet();
    const r = as.read(0xfed00000, 8);
    expect(calls).toEqual([{ op: 'r', offset: 0n, size: 4 }, { op: 'r', offset: 4n, size: 4 }]);
    expect(Array.from(r.data)).toEqual([0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22]);
    expect(r.result).toBe(MemTxResult.OK);
  });

  test('1- and 2-byte reads are invalid: 0, DECODE_ERROR, no callback', () => {
    const { as, calls } = hpet();
    expect(as.read(0xfed00000, 1)).toEqual({ data: Uint8Array.of(0), result: MemTxResult.DECODE_ERROR });
    expect(as.read(0xfed00000, 2)).toEqual({ data: Uint8Array.of(0, 0), result: MemTxResult.DECODE_ERROR });
    expect(calls).toEqual([]);
  });

  test('4-byte read at +2 becomes 2-byte accesses (alignment) and is invalid', () => {
    const { as, calls } = hpet();
    const r = as.read(0xfed00002, 4);
    expect(r.result).toBe(MemTxResult.DECODE_ERROR);
    expect(Array.from(r.data)).toEqual([0, 0, 0, 0]);
    expect(calls).toEqual([]);
  });
});

test('§9.14 odd-port 16-bit read of unassigned I/O: two 1-byte accesses, 0xffff', () => {
  const seen = recordingOps({}, () => -1);
  const io = MemoryRegion.io('io', 0x10000, seen.ops);
  const as = space(io, 'I/O');
  const r = as.read(0x301, 2);
  expect(seen.calls).toEqual([{ op: 'r', offset: 0x301n, size: 1 }, { op: 'r', offset: 0x302n, size: 1 }]);
  expect(Array.from(r.data)).toEqual([0xff, 0xff]);
  expect(r.result).toBe(MemTxResult.OK);
  // the exported unassigned_io_ops give the same answer
  const io2 = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  expect(space(io2, 'I/O2').read(0x301, 2)).toEqual({ data: Uint8Array.of(0xff, 0xff), result: MemTxResult.OK });
});

describe('§9.15 ROM writes and readonly aliases', () => {
  test('a write to ROM is ignored with DECODE_ERROR', () => {
    const root = sys();
    const bios = track(MemoryRegion.rom('pc.bios', 0x40000));
    bios.bytes()[0x3fff0] = 0xea;
    root.addSubregion(0xfffc0000, bios);
    const as = space(root);
    expect(as.write(0xfffffff0, [1, 2, 3, 4])).toBe(MemTxResult.DECODE_ERROR);
    expect(as.read(0xfffffff0, 1)).toEqual({ data: Uint8Array.of(0xea), result: MemTxResult.OK });
  });

  test('a write through a readonly alias of RAM lands in RAM (QEMU 7.2 host path)', () => {
    const root = sys();
    const ram = track(MemoryRegion.ram('pc.ram', 0x200000));
    const rom = MemoryRegion.alias('pam-rom', ram, 0xf0000, 0x10000);
    rom.setReadonly(true);
    root.addSubregion(0xf0000, rom);
    const as = space(root);
    expect(flat(as)).toEqual(['00000000000f0000-00000000000fffff (prio 0, rom): pc.ram @00000000000f0000']);
    expect(as.write(0xf0000, [0x78, 0x56, 0x34, 0x12])).toBe(MemTxResult.OK);
    expect(Array.from(as.read(0xf0000, 4).data)).toEqual([0x78, 0x56, 0x34, 0x12]);
    expect(Array.from(ram.bytes(0xf0000, 4))).toEqual([0x78, 0x56, 0x34, 0x12]);
  });
});

test('§9.16 RAM -> unassigned straddling write: the RAM part is written, an error is returned', () => {
  const root = sys();
  const ram = track(MemoryRegion.ram('pc.ram', 0x8000000));
  root.addSubregion(0, ram);
  const as = space(root);
  expect(as.write(0x7fffffe, [0xaa, 0xbb, 0xcc, 0xdd])).toBe(MemTxResult.DECODE_ERROR);
  expect(Array.from(ram.bytes(0x7fffffe, 2))).toEqual([0xaa, 0xbb]);
  const r = as.read(0x7fffffe, 4);
  expect(r.result).toBe(MemTxResult.DECODE_ERROR);
  expect(Array.from(r.data)).toEqual([0xaa, 0xbb, 0, 0]);
});

describe('§9.27 qemu_ram_resize', () => {
  test('non-resizable block, different page-aligned size: Size mismatch, nothing changes', () => {
    const list = new RamList();
    const mr = track(MemoryRegion.ram('fixed', 0x3000, { ramList: list }));
    expect(() => mr.ramBlock!.resize(0x5000)).toThrow('Size mismatch: fixed: 0x5000 != 0x3000');
    expect(mr.size).toBe(0x3000n);
    expect(mr.ramBlock!.usedLength).toBe(0x3000n);
  });

  test('same aligned size, different byte size: only the region size changes', () => {
    const list = new RamList();
    const mr = track(MemoryRegion.ram('fixed', 0x3000, { ramList: list }));
    const root = sys();
    root.addSubregion(0, mr);
    const as = space(root);
    mr.ramBlock!.resize(0x2801);
    expect(mr.size).toBe(0x2801n);
    expect(mr.ramBlock!.usedLength).toBe(0x3000n);
    expect(flat(as)).toEqual(['0000000000000000-0000000000002800 (prio 0, ram): fixed']);
  });

  test('resizable block grows up to its max; too large is refused', () => {
    const list = new RamList();
    const seen: [string, bigint][] = [];
    const mr = track(MemoryRegion.ram('acpi', 0x1000, { ramList: list, maxSize: 0x200000, resized: (id, s) => seen.push([id, s]) }));
    mr.ramBlock!.resize(0x20000);
    expect(mr.size).toBe(0x20000n);
    expect(mr.ramBlock!.usedLength).toBe(0x20000n);
    expect(seen).toEqual([['acpi', 0x20000n]]);
    expect(() => mr.ramBlock!.resize(0x201000)).toThrow('Size too large: acpi: 0x201000 > 0x200000');
    expect(mr.size).toBe(0x20000n);
  });
});

describe('§9.29 flags on levels skipped by get_flatview_root are lost', () => {
  test('readonly on an AS root alias is lost (full alias at offset 0)', () => {
    const t = MemoryRegion.io('t', 0x1000);
    const root = MemoryRegion.alias('root-alias', t, 0, 0x1000);
    root.setReadonly(true);
    const as = space(root);
    expect(as.currentView.root).toBe(t);
    expect(flat(as)).toEqual(['0000000000000000-0000000000000fff (prio 0, i/o): t']);
  });

  test('readonly on a single-child root container is lost; with two children it is kept', () => {
    const root = MemoryRegion.container('root', 0x10000);
    const c = MemoryRegion.io('c', 0x1000);
    root.addSubregion(0, c);
    root.setReadonly(true);
    const as = space(root);
    expect(as.currentView.root).toBe(c);
    expect(flat(as)).toEqual(['0000000000000000-0000000000000fff (prio 0, i/o): c']);
    root.addSubregion(0x2000, MemoryRegion.io('d', 0x1000));
    expect(as.currentView.root).toBe(root);
    expect(flat(as)).toEqual([
      '0000000000000000-0000000000000fff (prio 0, rom): c',
      '0000000000002000-0000000000002fff (prio 0, rom): d',
    ]);
  });

  test('a disabled bus-master alias gives the shared empty view', () => {
    const system = sys();
    system.addSubregion(0, MemoryRegion.io('a', 0x1000));
    system.addSubregion(0x2000, MemoryRegion.io('b', 0x1000));
    const bm = MemoryRegion.container('bus master container', TWO_64);
    const alias = MemoryRegion.alias('bus master alias', system, 0, TWO_64);
    bm.addSubregion(0, alias);
    alias.setEnabled(false);
    const a = space(bm, 'i440FX');
    const b = space(bm, 'PIIX3');
    expect(a.currentView.root).toBeNull();
    expect(a.currentView).toBe(b.currentView);
    alias.setEnabled(true);
    expect(a.currentView.root).toBe(system);
    expect(a.currentView).toBe(b.currentView);
    expect(flat(a)).toHaveLength(2);
  });
});
