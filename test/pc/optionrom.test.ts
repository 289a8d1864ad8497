// The option ROM the library carries (lib/machines/pc/optionrom/*-rom.ts) is
// exactly what its GNU as source builds to, and is a ROM SeaBIOS accepts:
// 0x55 0xAA, its size in 512-byte blocks, a zero checksum, a PnP header with
// a bootstrap entry vector.
import * as fs from 'fs';
import * as path from 'path';
import { multibootRom } from '../../lib/machines/pc/optionrom/multiboot-rom';

const { buildOptionRom, romModule } = jest.requireActual('../../scripts/build-optionrom.js') as {
  buildOptionRom(name: string): Buffer;
  romModule(name: string, rom: Buffer): string;
};

describe('genroms/multiboot.bin', () => {
  test('assembling multiboot.S gives exactly the committed bytes (and the same generated module)', () => {
    const built = buildOptionRom('multiboot');
    expect(Buffer.from(multibootRom()).equals(built)).toBe(true);
    const committed = fs.readFileSync(path.join(__dirname, '../../lib/machines/pc/optionrom/multiboot-rom.ts'), 'utf8');
    expect(romModule('multiboot', built)).toBe(committed);
  });

  test('it is an option ROM SeaBIOS runs: signature, size, checksum 0, PnP header with a BEV and no BCV', () => {
    const rom = multibootRom();
    expect([rom[0], rom[1]]).toEqual([0x55, 0xaa]);
    expect(rom[2] * 512).toBe(rom.length);
    expect(rom.reduce((s, b) => (s + b) & 0xff, 0)).toBe(0);
    const pnp = rom[0x1a] | (rom[0x1b] << 8);
    expect(String.fromCharCode(...rom.subarray(pnp, pnp + 4))).toBe('$PnP');
    const word = (at: number) => rom[pnp + at] | (rom[pnp + at + 1] << 8);
    expect(word(0x16)).toBe(0); // boot connection vector
    const bev = word(0x1a);
    expect(bev).toBeGreaterThan(pnp);
    expect(bev).toBeLessThan(rom.length);
    const product = word(0x10);
    expect(String.fromCharCode(...rom.subarray(product, rom.indexOf(0, product)))).toBe('multiboot');
    expect(rom[3]).toBe(0xcb); // the init vector returns at once (lret)
  });
});
