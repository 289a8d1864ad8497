// The i440FX RAM split as a function of the RAM size (QEMU 7.2
// hw/i386/pc_piix.c pc_init1, hw/i386/pc.c pc_memory_init).  The expected
// values are worked out by hand from that source (and agree with the maps
// captured in test/fixtures/qemu-pc/sizes/, which memory-map.test.ts checks).
import { AMD_ABOVE_1TB_START, pcRamSplit } from '../../lib/machines/pc/ram-split';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const G4 = 4n * GiB;

test.each([
  // -m, below 4G, above 4G
  ['128M', 128n * MiB, 128n * MiB, 0n],
  ['3G: below the 3.5 GiB default, all below', 3n * GiB, 3n * GiB, 0n],
  ['3583M: still below 3.5 GiB', 3583n * MiB, 3583n * MiB, 0n],
  ['3584M = 3.5 GiB: reaches max-ram-below-4g, so split at 3 GiB', 3584n * MiB, 3n * GiB, 512n * MiB],
  ['3585M', 3585n * MiB, 3n * GiB, 513n * MiB],
  ['4096M', 4096n * MiB, 3n * GiB, 1n * GiB],
  ['8G', 8n * GiB, 3n * GiB, 5n * GiB],
])('-m %s', (_name, ram, below, above) => {
  expect(pcRamSplit(ram)).toEqual({ below4g: below, above4g: above, above4gStart: G4 });
});

test('max-ram-below-4g (the examples in pc_init1\'s comment)', () => {
  expect(pcRamSplit(4n * GiB, { maxRamBelow4g: 2n * GiB })).toEqual({ below4g: 2n * GiB, above4g: 2n * GiB, above4gStart: G4 });
  expect(pcRamSplit(3968n * MiB, { maxRamBelow4g: 4n * GiB })).toEqual({ below4g: 3968n * MiB, above4g: 0n, above4gStart: G4 });
  // raising it does not lift the 3 GiB cap of a machine that has to split
  expect(pcRamSplit(4n * GiB, { maxRamBelow4g: 4n * GiB })).toEqual({ below4g: 3n * GiB, above4g: 1n * GiB, above4gStart: G4 });
  // not gigabyte aligned: kept (QEMU only warns)
  expect(pcRamSplit(3n * GiB, { maxRamBelow4g: 1536n * MiB })).toEqual({ below4g: 1536n * MiB, above4g: 1536n * MiB, above4gStart: G4 });
  // 0 means the default
  expect(pcRamSplit(3584n * MiB, { maxRamBelow4g: 0 })).toEqual(pcRamSplit(3584n * MiB));
  expect(() => pcRamSplit(GiB, { maxRamBelow4g: G4 + 1n })).toThrow("Machine option 'max-ram-below-4g=4294967297' expects size less than or equal to 4G");
});

test('AMD: ram-above-4g moves to 1 TiB when the 64-bit PCI hole would reach the HT range; phys-bits must cover it', () => {
  // the hole ends at roundup(4G + above, 1G) + 2G - 1: below 0xfd00000000 (1012 GiB) up to above = 1006 GiB
  const lastBelowHt = 3n * GiB + 1006n * GiB;
  expect(pcRamSplit(lastBelowHt).above4gStart).toBe(G4);
  const over = lastBelowHt + 4096n;
  const maxUsed = AMD_ABOVE_1TB_START + 1007n * GiB + 2n * GiB - 1n;
  expect(() => pcRamSplit(over)).toThrow(`Address space limit 0xffffffffff < 0x${maxUsed.toString(16)} phys-bits too low (40)`);
  expect(pcRamSplit(over, { physBits: 48 })).toEqual({ below4g: 3n * GiB, above4g: 1006n * GiB + 4096n, above4gStart: AMD_ABOVE_1TB_START });
  // an Intel CPU keeps it at 4 GiB
  expect(pcRamSplit(over, { physBits: 48, amdCpu: false }).above4gStart).toBe(G4);
});

test('bad input is refused with a RangeError / TypeError', () => {
  expect(() => pcRamSplit(0)).toThrow(RangeError);
  expect(() => pcRamSplit(-1n)).toThrow(RangeError);
  expect(() => pcRamSplit(1.5)).toThrow(RangeError);
  expect(() => pcRamSplit('1G' as unknown as bigint)).toThrow(TypeError);
  expect(() => pcRamSplit(GiB, { physBits: 31 })).toThrow(RangeError);
  expect(() => pcRamSplit(GiB, { maxRamBelow4g: -1n })).toThrow(RangeError);
  expect(() => pcRamSplit(GiB, { amdCpu: 'yes' as unknown as boolean })).toThrow(TypeError);
});
