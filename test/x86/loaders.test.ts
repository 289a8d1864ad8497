// Loader, page-table and size-string units (no KVM needed).
import { cpuidHas1GPages, identityPageTables, loadFlat, pageTableBytes, parseAddress, parseElf, parseSize } from '../../lib';

describe('identity page tables', () => {
  test('1 GiB pages: PML4 -> PDPT with PS leaves mapping g << 30', () => {
    const t = identityPageTables(0x1000n, 4n << 30n, '1G');
    expect(t.length).toBe(Number(pageTableBytes(4n << 30n, '1G'))); // 2 pages
    const dv = new DataView(t.buffer);
    expect(dv.getBigUint64(0, true)).toBe(0x2000n | 3n);
    for (let g = 0; g < 4; g++) expect(dv.getBigUint64(4096 + 8 * g, true)).toBe((BigInt(g) << 30n) | 0x83n);
    expect(dv.getBigUint64(4096 + 8 * 4, true)).toBe(0n);
  });

  test('2 MiB pages: one PD per GiB', () => {
    const t = identityPageTables(0x1000n, 2n << 30n, '2M');
    expect(t.length).toBe(4 * 4096);
    const dv = new DataView(t.buffer);
    expect(dv.getBigUint64(4096 + 8, true)).toBe(0x4000n | 3n); // PDPT[1] -> PD #2
    expect(dv.getBigUint64(3 * 4096 + 8 * 511, true)).toBe((1n << 30n) + (511n << 21n) | 0x83n);
  });

  test('pdpe1gb is CPUID 0x80000001 EDX bit 26', () => {
    expect(cpuidHas1GPages([{ function: 0x80000001, edx: 1 << 26 }])).toBe(true);
    expect(cpuidHas1GPages([{ function: 0x80000001, edx: 1 << 25 }, { function: 1, edx: 1 << 26 }])).toBe(false);
  });
});

describe('loaders', () => {
  test('flat: written at the address, entry defaults to it', () => {
    const writes: [bigint, number[]][] = [];
    const img = loadFlat(Uint8Array.of(1, 2, 3), (a, b) => writes.push([a, [...b]]), 0x1000n);
    expect(img).toEqual({ entry: 0x1000n, segments: [{ start: 0x1000n, end: 0x1003n }], format: 'flat' });
    expect(writes).toEqual([[0x1000n, [1, 2, 3]]]);
    expect(() => loadFlat(new Uint8Array(0), () => undefined, 0n)).toThrow(RangeError);
  });

  test('ELF: bad files are typed errors', () => {
    expect(() => parseElf(Uint8Array.of(1, 2, 3, 4))).toThrow(TypeError);
    const h = new Uint8Array(64);
    h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    new DataView(h.buffer).setUint16(16, 3, true); // ET_DYN
    expect(() => parseElf(h)).toThrow(/ET_EXEC/);
    new DataView(h.buffer).setUint16(16, 2, true);
    new DataView(h.buffer).setUint16(18, 40, true); // ARM
    expect(() => parseElf(h)).toThrow(/machine 40/);
    new DataView(h.buffer).setUint16(18, 62, true);
    new DataView(h.buffer).setUint16(54, 56, true);
    new DataView(h.buffer).setUint16(56, 1, true);
    new DataView(h.buffer).setBigUint64(32, 64n, true); // phdrs past the end
    expect(() => parseElf(h)).toThrow(RangeError);
  });
});

describe('parseSize / parseAddress', () => {
  test.each([['16M', 16n << 20n], ['512K', 512n << 10n], ['1G', 1n << 30n], ['16MiB', 16n << 20n], ['4096', 4096n]])('%s', (s, v) => {
    expect(parseSize(s)).toBe(v);
  });
  test.each(['16 M', '1.5G', '16MB', '-1M', '', 'M', '16m'])('rejects %j', (s) => {
    expect(() => parseSize(s)).toThrow(RangeError);
  });
  test('addresses', () => {
    expect(parseAddress('0x100000')).toBe(0x100000n);
    expect(parseAddress('4096')).toBe(4096n);
    expect(() => parseAddress('0x1g')).toThrow(RangeError);
    expect(() => parseAddress('0x10000000000000000')).toThrow(RangeError);
  });
});
