// PCI configuration mechanism #1, the PCI function model and the i440FX,
// driven the way a guest drives them: 32-bit writes of CONFIG_ADDRESS to
// 0xcf8 and accesses of 1, 2 or 4 bytes at 0xcfc-0xcff, through the "I/O"
// address space.  QEMU 7.2 ground truth: the reset dump of the i440FX.
import { MemoryRegion, formatTreeOf, type MemoryListener } from '../../lib/memory';
import { I440fx } from '../../lib/devices/i440fx';
import {
  PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_SPACE_IO, PCI_ROM_SLOT, PciDevice,
} from '../../lib/devices/pci/pci-device';
import { configAddress, configRead, configWrite, pciDump, RESET_DUMP, testPc, type TestPc } from '../helpers/pc';

const MiB = 1n << 20n;

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

function counting(): MemoryListener & { begins: number; commits: number } {
  const l = { begins: 0, commits: 0, begin() { l.begins++; }, commit() { l.commits++; } };
  return l;
}

/** the enabled PAM alias of each segment, by start address */
function pamState(pc: TestPc): string[] {
  return pc.map.i440fx.pam.map((seg) => `${seg.start.toString(16)}:${seg.alias[seg.current].name}@${seg.alias[seg.current].alias!.name}${seg.alias[seg.current].readonly ? ',ro' : ''}`);
}

let pc: TestPc;
beforeEach(() => { pc = testPc(128n * MiB); });
afterEach(() => pc.close());

describe('config mechanism #1 (0xcf8/0xcfc)', () => {
  test("the i440FX's configuration space at reset is QEMU's dump, dword by dword", () => {
    const want = pciDump(RESET_DUMP, 'reset', '0000');
    const got = new Uint8Array(256);
    for (let r = 0; r < 256; r += 4) got.set(le32(configRead(pc.map.ioSpace, 0, r, 4)), r);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  test('0xcf8 reads back what a 32-bit write stored; narrower writes are ignored', () => {
    const io = pc.map.ioSpace;
    io.write(0xcf8, le32(0x80000000));
    expect(Array.from(io.read(0xcf8, 4).data)).toEqual(le32(0x80000000));
    io.write(0xcf8, [0x12]);
    io.write(0xcf8, [0x34, 0x12]);
    expect(Array.from(io.read(0xcf8, 4).data)).toEqual(le32(0x80000000));
    io.write(0xcf8, le32(0x8000abcd));
    // QEMU returns the latch truncated to the access size, whatever the offset
    expect(Array.from(io.read(0xcf8, 1).data)).toEqual([0xcd]);
    expect(Array.from(io.read(0xcfa, 2).data)).toEqual([0xcd, 0xab]);
  });

  test('byte and word accesses at 0xcfc-0xcff reach the register (latch | port offset)', () => {
    const io = pc.map.ioSpace;
    io.write(0xcf8, le32(configAddress(0, 0)));
    expect(Array.from(io.read(0xcfc, 2).data)).toEqual([0x86, 0x80]);
    expect(Array.from(io.read(0xcfe, 2).data)).toEqual([0x37, 0x12]);
    expect(Array.from(io.read(0xcfd, 1).data)).toEqual([0x80]);
    expect(Array.from(io.read(0xcff, 1).data)).toEqual([0x12]);
    expect(configRead(io, 0, 0x2e, 2)).toBe(0x1100);
    expect(configRead(io, 0, 0x0b, 1)).toBe(0x06);
    configWrite(io, 0, 0x5b, 0x30, 1);
    configWrite(io, 0, 0x5e, 0x0302, 2);
    expect(configRead(io, 0, 0x5c, 4)).toBe(0x03020000);
    expect(configRead(io, 0, 0x58, 4)).toBe(0x30000000);
  });

  test('absent functions and other buses read all ones; writes to them are dropped', () => {
    const io = pc.map.ioSpace;
    for (const devfn of [1, 7, 8, 0x10, 0xff]) {
      expect(configRead(io, devfn, 0, 4)).toBe(0xffffffff);
      expect(configRead(io, devfn, 0x0e, 1)).toBe(0xff);
      expect(configRead(io, devfn, 0x02, 2)).toBe(0xffff);
      configWrite(io, devfn, 0x04, 0x0103, 2);
    }
    io.write(0xcf8, le32(0x80010000)); // bus 1, devfn 0
    expect(Array.from(io.read(0xcfc, 4).data)).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(configRead(io, 0, 0, 4)).toBe(0x12378086);
  });

  test('with the enable bit clear the data port reads all ones and writes nothing', () => {
    const io = pc.map.ioSpace;
    io.write(0xcf8, le32(0x00000058));
    expect(Array.from(io.read(0xcfc, 4).data)).toEqual([0xff, 0xff, 0xff, 0xff]);
    io.write(0xcfc, le32(0x33333300));
    expect(configRead(io, 0, 0x58, 4)).toBe(0x00000000);
    expect(pamState(pc).every((s) => s.includes('pam-pci@pci'))).toBe(true);
  });
});

describe('write masks (hw/pci/pci.c wmask / w1cmask)', () => {
  test('read-only header bits stay; command takes only IO|MEM|MASTER|SERR|INTX_DISABLE', () => {
    const io = pc.map.ioSpace;
    const before = pciDump(RESET_DUMP, 'reset', '0000');
    for (const r of [0x00, 0x08, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34]) configWrite(io, 0, r, 0xffffffff, 4);
    for (const r of [0x00, 0x08, 0x10, 0x2c, 0x30, 0x34]) {
      const want = before[r] | (before[r + 1] << 8) | (before[r + 2] << 16) | (before[r + 3] * 0x1000000);
      expect([r, configRead(io, 0, r, 4)]).toEqual([r, want >>> 0]);
    }
    configWrite(io, 0, 0x04, 0xffffffff, 4);
    expect(configRead(io, 0, 0x04, 2)).toBe(0x0507);
    expect(configRead(io, 0, 0x06, 2)).toBe(0x0000);
    configWrite(io, 0, 0x0c, 0xffff, 2);
    expect(configRead(io, 0, 0x0c, 2)).toBe(0x00ff); // cache line size writable, latency timer not
    configWrite(io, 0, 0x3c, 0xffff, 2);
    expect(configRead(io, 0, 0x3c, 2)).toBe(0x00ff); // interrupt line writable, pin not
    configWrite(io, 0, 0xfc, 0xdeadbeef, 4);
    expect(configRead(io, 0, 0xfc, 4)).toBe(0xdeadbeef); // 0x40-0xff all writable
  });

  test('status error bits clear when written with 1, and only those', () => {
    const dev = new PciDevice(pc.map.pciBus, 0x18, { name: 'test-dev', vendorId: 0x1234, deviceId: 0x5678, classId: 0xff00 });
    dev.config[0x06] = 0x10; // capability list: read-only
    dev.config[0x07] = 0xfb; // every W1C bit + DEVSEL medium (0x0200, read-only)
    configWrite(pc.map.ioSpace, 0x18, 0x06, 0x0100, 2);
    expect(configRead(pc.map.ioSpace, 0x18, 0x06, 2)).toBe(0xfa10);
    configWrite(pc.map.ioSpace, 0x18, 0x06, 0xffff, 2);
    expect(configRead(pc.map.ioSpace, 0x18, 0x06, 2)).toBe(0x0210);
  });
});

describe('i440FX PAM and SMRAM', () => {
  test('a PAM write flips the map in ONE transaction (one listener begin/commit)', () => {
    const l = counting();
    pc.map.memory.addListener(l);
    l.begins = 0;
    l.commits = 0;
    configWrite(pc.map.ioSpace, 0, 0x5a, 0x31, 1); // c0000: read-only RAM (low nibble 1), c4000: RAM (high nibble 3)
    expect([l.begins, l.commits]).toEqual([1, 1]);
    const tree = formatTreeOf(pc.map.system, false);
    expect(tree).toContain('00000000000c0000-00000000000c3fff (prio 1, ram): alias pam-rom @pc.ram 00000000000c0000-00000000000c3fff\n');
    expect(tree).toContain('00000000000c4000-00000000000c7fff (prio 1, ram): alias pam-ram @pc.ram 00000000000c4000-00000000000c7fff\n');
    expect(pamState(pc).slice(1, 3)).toEqual(['c0000:pam-rom@pc.ram,ro', 'c4000:pam-ram@pc.ram']);
    // a 32-bit write over all of 0x58-0x5b, as SeaBIOS does, is one transaction too
    configWrite(pc.map.ioSpace, 0, 0x58, 0x33333000, 4);
    expect([l.begins, l.commits]).toEqual([2, 2]);
    expect(pamState(pc).slice(0, 5)).toEqual(['f0000:pam-ram@pc.ram', 'c0000:pam-ram@pc.ram', 'c4000:pam-ram@pc.ram', 'c8000:pam-ram@pc.ram', 'cc000:pam-ram@pc.ram']);
    // attribute 2 ("write-only") is plain RAM under the name pam-pci, QEMU's approximation
    configWrite(pc.map.ioSpace, 0, 0x5f, 0x20, 1);
    expect(pamState(pc)[12]).toBe('ec000:pam-pci@pc.ram');
    // writes elsewhere do not touch the map
    configWrite(pc.map.ioSpace, 0, 0x60, 0xff, 1);
    expect([l.begins, l.commits]).toEqual([3, 3]);
    pc.map.memory.removeListener(l);
  });

  test('RAM behind a PAM segment: shadowing the BIOS the way SeaBIOS does', () => {
    const io = pc.map.ioSpace;
    const mem = pc.map.memory;
    const biosByte = mem.read(0xf0000n, 1).data[0];
    configWrite(io, 0, 0x58, 0x33333000, 4); // 0xf0000 read/write RAM
    expect(mem.read(0xf0000n, 1).data[0]).toBe(0);
    mem.write(0xf0000n, [biosByte ^ 0xff]);
    expect(mem.read(0xf0000n, 1).data[0]).toBe(biosByte ^ 0xff);
    configWrite(io, 0, 0x58, 0x00000000, 4); // back to PCI: the BIOS again
    expect(mem.read(0xf0000n, 1).data[0]).toBe(biosByte);
  });

  test('SMRAM 0x72: D_OPEN disables smram-region, G_SMRAME enables the SMM-only smram; RAM shows at 0xa0000 either way', () => {
    const i440fx = pc.map.i440fx;
    expect([i440fx.smramRegion.enabled, i440fx.smram.enabled]).toEqual([true, false]);
    pc.map.memory.write(0xa0010n, [0x5a]);
    configWrite(pc.map.ioSpace, 0, 0x72, 0x4a, 1);
    expect([i440fx.smramRegion.enabled, i440fx.smram.enabled]).toEqual([false, true]);
    expect(pc.map.memory.read(0xa0010n, 1).data[0]).toBe(0x5a);
    expect(i440fx.smram.container).toBeNull();
  });

  test('reset: the command register clears, PAM and SMRAM stay (QEMU has no i440FX reset)', () => {
    configWrite(pc.map.ioSpace, 0, 0x04, 0x0103, 2);
    configWrite(pc.map.ioSpace, 0, 0x5c, 0x33111111, 4);
    const pam = pamState(pc);
    pc.map.pciHost.reset();
    expect(configRead(pc.map.ioSpace, 0, 0x04, 2)).toBe(0);
    expect(configRead(pc.map.ioSpace, 0, 0x5c, 4)).toBe(0x33111111);
    expect(pamState(pc)).toEqual(pam);
  });

  test('saveState / loadState: the map follows the loaded registers; another device\'s state is refused', () => {
    configWrite(pc.map.ioSpace, 0, 0x58, 0x11111000, 4);
    const saved = pc.map.i440fx.saveState();
    const pam = pamState(pc);
    configWrite(pc.map.ioSpace, 0, 0x58, 0, 4);
    pc.map.i440fx.loadState(saved);
    expect(pamState(pc)).toEqual(pam);
    const other = saved.config.slice();
    other[2] = 0x38;
    expect(() => pc.map.i440fx.loadState({ config: other })).toThrow(RangeError);
    expect(() => pc.map.i440fx.loadState({ config: new Uint8Array(10) })).toThrow(TypeError);
    expect(pamState(pc)).toEqual(pam);
  });
});

describe('BARs: sizing, mapping through the memory API', () => {
  function device(): { dev: PciDevice; io: MemoryRegion; mmio: MemoryRegion; mmio64: MemoryRegion; rom: MemoryRegion } {
    const dev = new PciDevice(pc.map.pciBus, 0x18, { name: 'test-dev', vendorId: 0x1234, deviceId: 0x5678, classId: 0xff00 });
    const io = MemoryRegion.io('test-io', 16, { read: () => 0x5a });
    const mmio = MemoryRegion.io('test-mmio', 0x1000, { read: () => 0xa5 });
    const mmio64 = MemoryRegion.io('test-mmio64', 0x100000);
    const rom = MemoryRegion.io('test-rom', 0x10000);
    dev.registerBar(0, PCI_BASE_ADDRESS_SPACE_IO, io);
    dev.registerBar(1, 0, mmio);
    dev.registerBar(2, PCI_BASE_ADDRESS_MEM_TYPE_64, mmio64);
    dev.registerBar(PCI_ROM_SLOT, 0, rom);
    return { dev, io, mmio, mmio64, rom };
  }

  test('writing all ones returns the size mask with the type bits (SeaBIOS pciinit sizing)', () => {
    device();
    const io = pc.map.ioSpace;
    const size = (reg: number) => {
      const old = configRead(io, 0x18, reg, 4);
      configWrite(io, 0x18, reg, 0xffffffff, 4);
      const v = configRead(io, 0x18, reg, 4);
      configWrite(io, 0x18, reg, old, 4);
      return v;
    };
    expect(configRead(io, 0x18, 0x10, 4)).toBe(0x00000001);
    expect(configRead(io, 0x18, 0x18, 4)).toBe(0x00000004);
    expect(size(0x10)).toBe(0xfffffff1);
    expect(size(0x14)).toBe(0xfffff000);
    expect(size(0x18)).toBe(0xfff00004);
    expect(size(0x1c)).toBe(0xffffffff);
    expect(size(0x20)).toBe(0x00000000); // no BAR 4
    expect(size(0x30)).toBe(0xffff0001);
  });

  test('a BAR maps once decoding is on, moves as ONE listener commit, and unmaps', () => {
    const { dev, io: ioBar, mmio } = device();
    const io = pc.map.ioSpace;
    const l = counting();
    pc.map.memory.addListener(l);
    configWrite(io, 0x18, 0x10, 0xc000, 4);
    configWrite(io, 0x18, 0x14, 0x80000000, 4);
    expect(dev.bar(0)!.address).toBeNull();
    expect(dev.bar(1)!.address).toBeNull();
    configWrite(io, 0x18, 0x04, 0x0003, 2);
    expect(dev.bar(0)!.address).toBe(0xc000n);
    expect(dev.bar(1)!.address).toBe(0x80000000n);
    expect(ioBar.container).toBe(pc.map.io);
    expect(ioBar.priority).toBe(1);
    expect(mmio.container).toBe(pc.map.pci);
    expect(Array.from(io.read(0xc003, 1).data)).toEqual([0x5a]);
    expect(Array.from(pc.map.memory.read(0x80000010n, 1).data)).toEqual([0xa5]);
    l.begins = 0;
    l.commits = 0;
    configWrite(io, 0x18, 0x14, 0x90000000, 4);
    expect([l.begins, l.commits]).toEqual([1, 1]);
    expect(pc.map.memory.findSection(0x90000000n)!.mr).toBe(mmio);
    expect(pc.map.memory.findSection(0x80000000n)).toBeNull();
    // sizing with decoding on unmaps the BAR (all ones is not an address QEMU maps)
    configWrite(io, 0x18, 0x14, 0xffffffff, 4);
    expect(dev.bar(1)!.address).toBeNull();
    configWrite(io, 0x18, 0x14, 0x90000000, 4);
    configWrite(io, 0x18, 0x04, 0x0000, 2);
    expect([dev.bar(0)!.address, dev.bar(1)!.address]).toEqual([null, null]);
    expect(ioBar.container).toBeNull();
    pc.map.memory.removeListener(l);
  });

  test('64-bit and ROM BARs; reset unmaps and restores the type bits', () => {
    const { dev, mmio64, rom } = device();
    const io = pc.map.ioSpace;
    configWrite(io, 0x18, 0x18, 0x00000000, 4);
    configWrite(io, 0x18, 0x1c, 0x00000001, 4);
    configWrite(io, 0x18, 0x30, 0xfeb00000, 4);
    configWrite(io, 0x18, 0x04, 0x0002, 2);
    expect(dev.bar(2)!.address).toBe(0x100000000n);
    expect(dev.bar(PCI_ROM_SLOT)!.address).toBeNull(); // ROM enable bit clear
    configWrite(io, 0x18, 0x30, 0xfeb00001, 4);
    expect(dev.bar(PCI_ROM_SLOT)!.address).toBe(0xfeb00000n);
    expect(mmio64.container).toBe(pc.map.pci);
    dev.reset();
    expect([dev.bar(2)!.address, dev.bar(PCI_ROM_SLOT)!.address]).toEqual([null, null]);
    expect(rom.container).toBeNull();
    expect([configRead(io, 0x18, 0x18, 4), configRead(io, 0x18, 0x1c, 4), configRead(io, 0x18, 0x30, 4), configRead(io, 0x18, 0x04, 2)]).toEqual([4, 0, 0, 0]);
  });

  test('bad registrations and accesses are refused with what to do', () => {
    const { dev } = device();
    expect(() => dev.registerBar(0, 0, MemoryRegion.io('x', 16))).toThrow('already registered');
    expect(() => dev.registerBar(3, 0, MemoryRegion.io('x', 16))).toThrow('already registered'); // upper half of BAR 2
    expect(() => dev.registerBar(4, 0, MemoryRegion.io('x', 24))).toThrow('power of two');
    expect(() => dev.registerBar(5, PCI_BASE_ADDRESS_MEM_TYPE_64, MemoryRegion.io('x', 16))).toThrow('BAR 0-4');
    expect(() => dev.registerBar(7, 0, MemoryRegion.io('x', 16))).toThrow(RangeError);
    expect(() => dev.configRead(0xfe, 4)).toThrow(RangeError);
    expect(() => dev.configRead(0, 3)).toThrow(RangeError);
    expect(() => dev.configWrite(0, 0x1_0000, 2)).toThrow(RangeError);
    expect(() => new PciDevice(pc.map.pciBus, 0x18, { name: 'again', vendorId: 1, deviceId: 1, classId: 1 })).toThrow('slot 3 function 0 not available for again, in use by test-dev');
    expect(() => new I440fx({ bus: pc.map.pciBus, pci: pc.map.pci, ram: pc.map.ram, ramSize: 1 })).toThrow('already mapped in "system"');
    const pci2 = MemoryRegion.container('pci2', 1n << 64n);
    expect(() => new I440fx({ bus: pc.map.pciBus, pci: pci2, ram: pc.map.ram, ramSize: 1 })).toThrow('in use by i440FX');
    expect(pci2.container).toBeNull();
    pci2.close();
    // the map still works
    expect(configRead(pc.map.ioSpace, 0, 0, 4)).toBe(0x12378086);
  });

  test('a dword access at 0xcfe is cut at the end of the data port, as in QEMU', () => {
    const io = pc.map.ioSpace;
    io.write(0xcf8, le32(configAddress(0, 0xfc)));
    configWrite(io, 0, 0xfc, 0x44332211, 4);
    io.write(0xcf8, le32(configAddress(0, 0xfc)));
    expect(Array.from(io.read(0xcfe, 4).data)).toEqual([0x33, 0x44, 0xff, 0xff]);
  });
});
