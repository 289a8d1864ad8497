// `info pci` against what QEMU 7.2 printed for the same four functions: at
// reset (test/fixtures/qemu-hmp, unmapped BAR4, IRQ line 0) and after SeaBIOS's
// POST (test/fixtures/qemu-pc/m128/post/info_pci.txt).
import * as fs from 'fs';
import * as path from 'path';
import { mapDevices } from '../../lib/devices/device';
import { callbackIrqLine } from '../../lib/devices/irq-line';
import { formatInfoPci } from '../../lib/devices/pci/info-pci';
import { PciDevice, PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_ROM_SLOT } from '../../lib/devices/pci/pci-device';
import { Piix3 } from '../../lib/devices/piix3';
import { Piix3IdePci } from '../../lib/devices/piix3-ide-pci';
import { Piix4Pm } from '../../lib/devices/piix4-pm';
import { MemoryRegion } from '../../lib/memory';
import { fakeClock } from './rtc-rig';
import { configWrite, fixture, seabiosSouthbridgePost, testPc, type TestPc } from '../helpers/pc';

const MiB = 1n << 20n;

let pc: TestPc;
let devices: { close(): void }[];
beforeEach(() => {
  pc = testPc(128n * MiB);
  const isaIrqs = Array.from({ length: 16 }, (_, i) => callbackIrqLine(() => {}, `ISA ${i}`));
  const piix3 = new Piix3({ bus: pc.map.pciBus, isaIrqs, onResetRequest: () => {} });
  const ide = new Piix3IdePci(pc.map.pciBus);
  const pm = new Piix4Pm({ bus: pc.map.pciBus, sci: () => {}, clock: fakeClock(0n) });
  mapDevices({ memory: pc.map.system, io: pc.map.io }, [piix3, ide, pm]);
  devices = [pm, ide, piix3];
});
afterEach(() => {
  for (const d of devices) d.close();
  pc.close();
});

const hmpFixture = (name: string) => fs.readFileSync(path.resolve(__dirname, '../fixtures/qemu-hmp', name), 'utf8');

test("at reset it is QEMU's text: BAR4 unmapped at PCI_BAR_UNMAPPED, the PM's IRQ line 0", () => {
  expect(formatInfoPci(pc.map.pciBus).split('\n')).toEqual(hmpFixture('reset-info_pci.txt').split('\n'));
});

test("after SeaBIOS's PCI set-up it is QEMU's info pci after POST, line for line", () => {
  seabiosSouthbridgePost(pc.map.ioSpace);
  expect(formatInfoPci(pc.map.pciBus).split('\n')).toEqual(fixture('m128/post/info_pci.txt').replace(/\r/g, '').split('\n'));
  pc.map.pciHost.reset(); // a system reset unmaps the BAR again
  expect(formatInfoPci(pc.map.pciBus)).toBe(hmpFixture('reset-info_pci.txt'));
});

test('memory BARs (32/64-bit, prefetchable), the ROM BAR and classes QEMU has no name for', () => {
  const dev = new PciDevice(pc.map.pciBus, 0x18, { name: 'test-dev', vendorId: 0x1234, deviceId: 0x11, classId: 0xff00, interruptPin: 2 });
  const bar0 = MemoryRegion.io('bar0', 0x1000);
  const bar2 = MemoryRegion.io('bar2', 0x100000);
  const rom = MemoryRegion.io('rom', 0x10000);
  dev.registerBar(0, 0, bar0);
  dev.registerBar(2, PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH, bar2);
  dev.registerBar(PCI_ROM_SLOT, 0, rom);
  const io = pc.map.ioSpace;
  configWrite(io, 0x18, 0x10, 0xfebf0000, 4);
  configWrite(io, 0x18, 0x18, 0xfe000000, 4);
  configWrite(io, 0x18, 0x1c, 0x1, 4);
  configWrite(io, 0x18, 0x30, 0xfeb00001, 4);
  configWrite(io, 0x18, 0x3c, 11, 1);
  configWrite(io, 0x18, 0x04, 0x0002, 2);
  try {
    const block = formatInfoPci(pc.map.pciBus).split('\n').slice(-9, -1);
    expect(block).toEqual([
      '  Bus  0, device   3, function 0:',
      '    Class 65280: PCI device 1234:0011',
      '      PCI subsystem 1af4:1100',
      '      IRQ 11, pin B',
      '      BAR0: 32 bit memory at 0xfebf0000 [0xfebf0fff].',
      '      BAR2: 64 bit prefetchable memory at 0x1fe000000 [0x1fe0fffff].',
      '      BAR6: 32 bit memory at 0xfeb00000 [0xfeb0ffff].',
      '      id ""',
    ]);
    configWrite(io, 0x18, 0x04, 0, 2); // decoding off: QEMU's unmapped address, the end wrapped
    expect(formatInfoPci(pc.map.pciBus)).toContain('      BAR2: 64 bit prefetchable memory at 0xffffffffffffffff [0x000ffffe].\n');
  } finally {
    configWrite(io, 0x18, 0x04, 0, 2);
    for (const r of [bar0, bar2, rom]) r.close();
  }
});
