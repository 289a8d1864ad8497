// The option ROMs the library carries (lib/machines/pc/optionrom/*-rom.ts) are
// exactly what their GNU as sources build to, and are ROMs SeaBIOS accepts:
// 0x55 0xAA, its size in 512-byte blocks, a zero checksum, a PnP header with
// a bootstrap entry vector.
import * as fs from 'fs';
import * as path from 'path';
import { multibootRom } from '../../lib/machines/pc/optionrom/multiboot-rom';
import { pvhRom } from '../../lib/machines/pc/optionrom/pvh-rom';
import { linuxbootRom } from '../../lib/machines/pc/optionrom/linuxboot-rom';

const { buildOptionRom, romModule, OPTIONROMS } = jest.requireActual('../../scripts/build-optionrom.js') as {
  buildOptionRom(name: string): Buffer;
  romModule(name: string, rom: Buffer): string;
  OPTIONROMS: string[];
};

const ROMS: Record<string, () => Uint8Array> = { multiboot: multibootRom, pvh: pvhRom, linuxboot: linuxbootRom };

test('every ROM the build script knows is tested here', () => {
  expect(Object.keys(ROMS).sort()).toEqual([...OPTIONROMS].sort());
});

describe.each(Object.keys(ROMS))('genroms/%s.bin', (name) => {
  test(`assembling ${name}.S gives exactly the committed bytes (and the same generated module)`, () => {
    const built = buildOptionRom(name);
    expect(Buffer.from(ROMS[name]()).equals(built)).toBe(true);
    const committed = fs.readFileSync(path.join(__dirname, `../../lib/machines/pc/optionrom/${name}-rom.ts`), 'utf8');
    expect(romModule(name, built)).toBe(committed);
  });

  test('it is an option ROM SeaBIOS runs: signature, size, checksum 0, PnP header with a BEV and no BCV', () => {
    const rom = ROMS[name]();
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
    expect(String.fromCharCode(...rom.subarray(product, rom.indexOf(0, product)))).toBe(name);
    expect(rom[3]).toBe(0xcb); // the init vector returns at once (lret)
  });
});
