/**
 * RAM blocks and find_ram_offset (semantics §7, edge case 26), with the
 * offsets observed on a real `-M pc -m 128` + memdev machine.
 */
import { MemoryRegion, RAM_RESIZEABLE, RamBlockError, RamList } from '../../lib/memory';

const K = 1024;
const M = 1024 * K;

describe('find_ram_offset', () => {
  let list: RamList;
  beforeEach(() => { list = new RamList(); });
  afterEach(() => { for (const b of list.blocks.slice()) list.remove(b); });

  test('observed offsets of a pc machine (§7.3) and info ramblock order (§7.1)', () => {
    const alloc = (name: string, size: number, max?: number) => list.allocate(name, size, max ? { maxSize: max } : {});
    const blocks = [
      alloc('m1', 1 * M),
      alloc('pc.ram', 128 * M),
      alloc('pc.bios', 256 * K),
      alloc('pc.rom', 128 * K),
      alloc('vga.vram', 16 * M),
      alloc('vga.rom', 64 * K),
      alloc('etc/acpi/tables', 128 * K, 2 * M),
      alloc('etc/table-loader', 4 * K, 64 * K),
      alloc('etc/acpi/rsdp', 4 * K),
    ];
    expect(blocks.map((b) => b.offset)).toEqual([
      0x0n, 0x100000n, 0x8100000n, 0x8140000n, 0x8180000n, 0x9180000n, 0x91c0000n, 0x93c0000n, 0x9400000n,
    ]);
    // sorted by max_length descending, equal sizes in creation order
    expect(list.blocks.map((b) => b.idstr)).toEqual([
      'pc.ram', 'vga.vram', 'etc/acpi/tables', 'm1', 'pc.bios', 'pc.rom', 'vga.rom', 'etc/table-loader', 'etc/acpi/rsdp',
    ]);
    expect(list.blocks.map((b) => Number(b.maxLength) / K)).toEqual([128 * K, 16 * K, 2 * K, K, 256, 128, 64, 64, 4]);
    const acpi = blocks[6];
    expect(acpi.usedLength).toBe(128n * 1024n);
    expect(acpi.maxLength).toBe(2n * 1024n * 1024n);
    expect(acpi.flags & RAM_RESIZEABLE).toBe(RAM_RESIZEABLE);

    // best fit: freeing pc.bios leaves a 256 KiB gap after pc.ram; a 128 KiB block takes it
    list.remove(blocks[2]);
    expect(list.allocate('small', 128 * K).offset).toBe(0x8100000n);
  });

  test('the first block goes at 0; the hole before the lowest block is never reused', () => {
    const a = list.allocate('a', M);
    const b = list.allocate('b', M);
    expect(a.offset).toBe(0n);
    expect(b.offset).toBe(0x100000n);
    list.remove(a);
    expect(list.allocate('c', 64 * K).offset).toBe(0x200000n);
  });

  test('candidates are 256 KiB aligned; ties go to the first block in list order', () => {
    const a = list.allocate('a', 4 * K); // 0
    expect(list.findRamOffset(4 * K)).toBe(0x40000n);
    const b = list.allocate('b', 4 * K);
    expect(b.offset).toBe(0x40000n);
    expect(a.offset).toBe(0n);
    expect(() => list.findRamOffset(0)).toThrow(RangeError);
    expect(() => list.findRamOffset(2n ** 64n - 1n)).toThrow(RamBlockError);
    expect(() => list.findRamOffset(2n ** 64n - 1n)).toThrow('Failed to find gap of requested size');
  });

  test('ram_addr and host address lookups', () => {
    const a = list.allocate('a', M);
    const b = list.allocate('b', M);
    expect(list.blockForRamAddr(0x100010n)).toBe(b);
    expect(list.blockForRamAddr(0x10n)).toBe(a);
    expect(() => list.blockForRamAddr(0x10000000n)).toThrow('Bad ram offset 10000000');
    expect(list.blockFromHost(b.hostAddress + 5n)).toEqual({ block: b, offset: 5n });
    expect(list.blockFromHost(1n)).toBeNull();
  });
});

describe('RAM regions and their blocks', () => {
  test('sizes are page-rounded in the block, not in the region; views are zero-copy', () => {
    const list = new RamList();
    const mr = MemoryRegion.ram('r', 0x1801, { ramList: list });
    try {
      const block = mr.ramBlock!;
      expect(mr.size).toBe(0x1801n);
      expect(block.usedLength).toBe(0x2000n);
      expect(block.maxLength).toBe(0x2000n);
      expect(block.mr).toBe(mr);
      const v1 = mr.bytes();
      expect(v1.length).toBe(0x1801);
      v1[0x10] = 0x77;
      expect(block.bytes(0x10, 1)[0]).toBe(0x77);
      expect(mr.bytes(0x10, 1)[0]).toBe(0x77);
      expect(mr.hostAddress(0x10n)).toBe(block.hostAddress + 0x10n);
      expect(block.host.size).toBe(0x2000n);
    } finally {
      mr.close();
    }
    expect(list.blocks).toEqual([]);
  });

  test('ROM is RAM + readonly; both get blocks', () => {
    const list = new RamList();
    const rom = MemoryRegion.rom('pc.bios', 0x40000, { ramList: list });
    try {
      expect(rom.isRam).toBe(true);
      expect(rom.readonly).toBe(true);
      expect(rom.typeName).toBe('rom');
      expect(rom.ramBlock!.offset).toBe(0n);
    } finally {
      rom.close();
    }
  });

  test('a block can use caller-provided host memory, which it does not free', () => {
    const list = new RamList();
    const src = MemoryRegion.ram('src', 0x4000, { ramList: list });
    const host = src.ramBlock!.host;
    const mr = MemoryRegion.ram('shared', 0x4000, { ramList: list, hostMemory: host });
    mr.close();
    expect(host.closed).toBe(false);
    expect(() => MemoryRegion.ram('too-big', 0x8000, { ramList: list, hostMemory: host })).toThrow(RangeError);
    src.close();
    expect(host.closed).toBe(true);
  });
});
