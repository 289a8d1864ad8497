// `info ramblock` (QEMU 7.2 ram_block_format): the whole answer QEMU gave at
// -m 128, reproduced with the same six blocks (the three ACPI ones are
// resizable, as QEMU's acpi-build makes them), and size_to_str.
import * as fs from 'fs';
import * as path from 'path';
import { RamList } from '../../lib/memory';
import { formatRamBlocks, sizeToStr } from '../../lib/memory/ramblock-info';

const FIXTURE = path.resolve(__dirname, '../fixtures/qemu-pc/m128/reset/info_ramblock.txt');

test('the -m 128 answer, line for line', () => {
  const list = new RamList();
  try {
    list.allocate('pc.ram', 0x8000000);
    list.allocate('pc.bios', 0x40000);
    list.allocate('pc.rom', 0x20000);
    list.allocate('/rom@etc/acpi/tables', 0x20000, { maxSize: 0x200000 });
    list.allocate('/rom@etc/table-loader', 0x1000, { maxSize: 0x10000 });
    list.allocate('/rom@etc/acpi/rsdp', 0x1000, { maxSize: 0x1000 });
    // the capture came through QMP, whose monitor writes "\r\n"
    expect(formatRamBlocks(list)).toBe(fs.readFileSync(FIXTURE, 'utf8').replace(/\r\n/g, '\n'));
  } finally {
    for (const b of list.blocks) list.remove(b);
  }
});

test('an empty list prints the header only', () => {
  expect(formatRamBlocks(new RamList())).toBe('              Block Name    PSize              Offset               Used              Total\n');
});

test.each([
  [0n, '0 B'], [1n, '1 B'], [999n, '999 B'], [1000n, '0.977 KiB'], [1023n, '0.999 KiB'], [1024n, '1 KiB'],
  [1536n, '1.5 KiB'], [4096n, '4 KiB'], [2n << 20n, '2 MiB'], [1n << 30n, '1 GiB'], [1023n << 20n, '0.999 GiB'],
  [12345678n, '11.8 MiB'], [1n << 60n, '1 EiB'],
])('size_to_str(%s) = %s', (bytes, text) => {
  expect(sizeToStr(bytes)).toBe(text);
});
