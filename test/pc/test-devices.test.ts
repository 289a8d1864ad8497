// pc-testdev and pci-testdev as QEMU 7.2 has them (hw/misc/pc-testdev.c,
// hw/misc/pci-testdev.c), driven the way kvm-unit-tests drive them: port
// and MMIO accesses through the pc's address spaces.
import { mapDevices, deviceRegions } from '../../lib/devices/device';
import { callbackIrqLine } from '../../lib/devices/irq-line';
import { PcTestdev } from '../../lib/devices/pc-testdev';
import { PCI_DEVICE_ID_REDHAT_TEST, PCI_VENDOR_ID_REDHAT, PciTestdev } from '../../lib/devices/pci-testdev';
import { AddressSpace } from '../../lib/memory';
import { configRead, configWrite, testPc, type TestPc } from '../helpers/pc';

const MiB = 1n << 20n;
const le = (v: number | bigint, n: number) => Array.from({ length: n }, (_, i) => Number((BigInt(v) >> BigInt(8 * i)) & 0xffn));
const val = (d: ArrayLike<number>) => Array.from(d).reduceRight((v, b) => v * 256 + b, 0);

let pc: TestPc;
beforeEach(() => { pc = testPc(128n * MiB); });
afterEach(() => pc.close());

describe('pc-testdev', () => {
  function plugged() {
    const irqs: string[] = [];
    const dev = new PcTestdev(Array.from({ length: 16 }, (_, n) => callbackIrqLine((l) => irqs.push(`${n}=${Number(l)}`))));
    mapDevices({ memory: pc.map.system, io: pc.map.io }, [dev]);
    const io = pc.map.ioSpace;
    const out = (port: number, v: number, n: number) => io.write(port, le(v, n));
    const inp = (port: number, n: number) => val(io.read(port, n).data);
    return { dev, irqs, out, inp, close: () => { for (const r of deviceRegions([dev])) r.close(); } };
  }

  test('0xe0-0xe3 is a 32-bit scratch register, by bytes, words and dwords at any byte; 0xe8 is the same register byte by byte', () => {
    const t = plugged();
    try {
      t.out(0xe0, 0x12345678, 4);
      expect(t.inp(0xe0, 4)).toBe(0x12345678);
      expect(t.inp(0xe1, 1)).toBe(0x56);
      expect(t.inp(0xe2, 2)).toBe(0x1234);
      t.out(0xe1, 0xab, 1);
      expect(t.inp(0xe0, 4)).toBe(0x1234ab78);
      expect(t.inp(0xe8, 4)).toBe(0x1234ab78); // the same ioport_data
      t.out(0xe8, 0xdeadbeef, 4);
      expect(t.inp(0xe0, 4)).toBe(0xdeadbeef);
      t.out(0xea, 0x4455, 2);
      expect(t.inp(0xe8, 4)).toBe(0x4455beef);
      expect(t.inp(0xeb, 1)).toBe(0x44);
    } finally {
      t.close();
    }
  });

  test('0x2000 + n drives ISA IRQ n (a byte, nonzero = raised); lines 16-23 drive nothing', () => {
    const t = plugged();
    try {
      t.out(0x2004, 1, 1);
      t.out(0x200e, 7, 1);
      t.out(0x2004, 0, 1);
      t.out(0x2013, 1, 1);
      expect(t.irqs).toEqual(['4=1', '14=1', '4=0']);
    } finally {
      t.close();
    }
  });

  test('the flush-page port takes a dword and changes nothing the guest sees; the iomem at 0xff000000 reads back what was written', () => {
    const t = plugged();
    try {
      t.out(0xe4, 0x100000, 4);
      pc.cpu.write(0xff000010n, le(0x1122334455667788n, 8));
      expect(val(pc.cpu.read(0xff000010n, 4).data)).toBe(0x55667788);
      expect(val(pc.cpu.read(0xff000013n, 2).data)).toBe(0x4455);
      pc.cpu.write(0xff00fffen, [0xaa, 0xbb]);
      expect(Array.from(t.dev.iomem().subarray(0xfffe))).toEqual([0xaa, 0xbb]);
      const saved = t.dev.saveState();
      t.out(0xe0, 1, 4);
      pc.cpu.write(0xff000010n, [0]);
      t.dev.loadState(saved);
      expect(val(pc.cpu.read(0xff000010n, 1).data)).toBe(0x88);
      expect(() => t.dev.loadState({ ioportData: -1, iomem: new Uint8Array(0x10000) })).toThrow(RangeError);
      expect(() => t.dev.loadState({ ioportData: 0, iomem: new Uint8Array(3) })).toThrow(TypeError);
    } finally {
      t.close();
    }
  });
});

describe('pci-testdev', () => {
  const DEVFN = 0x10; // 00:02.0, the first free slot after PIIX3 on -nodefaults
  const MMIO = 0xfe000000;
  const PORTS = 0xc000;
  function plugged() {
    const dev = new PciTestdev(pc.map.pciBus, DEVFN);
    const io = pc.map.ioSpace;
    configWrite(io, DEVFN, 0x10, MMIO, 4);
    configWrite(io, DEVFN, 0x14, PORTS, 4);
    configWrite(io, DEVFN, 0x04, 0x3, 2); // I/O and memory decoding
    const mem = new AddressSpace(pc.map.system, 'test');
    return {
      dev,
      mmio: { write: (off: number, v: number, n: number) => mem.write(BigInt(MMIO + off), le(v, n)), read: (off: number, n: number) => val(mem.read(BigInt(MMIO + off), n).data) },
      port: { write: (off: number, v: number, n: number) => io.write(PORTS + off, le(v, n)), read: (off: number, n: number) => val(io.read(PORTS + off, n).data) },
      close: () => { mem.destroy(); dev.close(); },
    };
  }

  test('its identity and BARs are QEMU\'s: 1b36:0005, class 0xff00, no interrupt pin, 4 KiB of memory and 256 ports', () => {
    const t = plugged();
    try {
      const io = pc.map.ioSpace;
      expect(configRead(io, DEVFN, 0x00, 2)).toBe(PCI_VENDOR_ID_REDHAT);
      expect(configRead(io, DEVFN, 0x02, 2)).toBe(PCI_DEVICE_ID_REDHAT_TEST);
      expect(configRead(io, DEVFN, 0x0a, 2)).toBe(0xff00);
      expect(configRead(io, DEVFN, 0x3d, 1)).toBe(0);
      configWrite(io, DEVFN, 0x10, 0xffffffff, 4);
      configWrite(io, DEVFN, 0x14, 0xffffffff, 4);
      expect(configRead(io, DEVFN, 0x10, 4) >>> 0).toBe(0xfffff000);
      expect(configRead(io, DEVFN, 0x14, 4) >>> 0).toBe(0xffffff01);
    } finally {
      t.close();
    }
  });

  /** kvm-unit-tests' pci_testdev_one: start the test, check its header, 16 writes, read the count */
  function runOne(bar: { write(o: number, v: number, n: number): void; read(o: number, n: number): number }, nr: number) {
    bar.write(0, nr, 1);
    const start = bar.read(12, 4);
    const width = bar.read(1, 1);
    const data = bar.read(8, 1);
    const offset = bar.read(4, 4);
    let name = '';
    for (let i = 16; bar.read(i, 1) !== 0; i++) name += String.fromCharCode(bar.read(i, 1));
    for (let i = 0; i < 16; i++) bar.write(offset, data, width);
    return { start, width, data, offset, name, count: bar.read(12, 4) };
  }

  test('each of the six tests has QEMU\'s header; the no-eventfd writes count, the ones KVM\'s ioeventfd would take do not', () => {
    const t = plugged();
    try {
      expect([0, 1, 2].map((n) => runOne(t.mmio, n))).toEqual([
        { start: 0, width: 1, data: 0xfa, offset: 2048, name: 'mmio-no-eventfd', count: 16 },
        { start: 0, width: 1, data: 0xce, offset: 2049, name: 'mmio-wildcard-eventfd', count: 0 },
        { start: 0, width: 1, data: 0xfa, offset: 2050, name: 'mmio-datamatch-eventfd', count: 0 },
      ]);
      expect([0, 1, 2].map((n) => runOne(t.port, n))).toEqual([
        { start: 0, width: 1, data: 0xfa, offset: 131, name: 'portio-no-eventfd', count: 16 },
        { start: 0, width: 1, data: 0xce, offset: 132, name: 'portio-wildcard-eventfd', count: 0 },
        { start: 0, width: 1, data: 0xfa, offset: 133, name: 'portio-datamatch-eventfd', count: 0 },
      ]);
    } finally {
      t.close();
    }
  });

  test('writes the eventfd does not match reach the device byte by byte; a test number >= 3 stops the test; reset stops it', () => {
    const t = plugged();
    try {
      t.port.write(0, 2, 1); // portio-datamatch-eventfd
      t.port.write(133, 0x11, 1); // not the data: the device does not count it
      t.port.write(133, 0xfa, 2); // 2 bytes: not the eventfd's (1 byte); the byte 0xfa at 133 counts
      t.port.write(133, 0xfa, 1); // what the eventfd takes
      t.mmio.write(0, 1, 1); // mmio-wildcard-eventfd: any length at 2049 is the eventfd's
      t.mmio.write(2049, 0xffffffff, 4);
      t.mmio.write(2049, 0xce, 1);
      expect(t.mmio.read(12, 4)).toBe(0);
      t.port.write(0, 2, 1);
      t.port.write(133, 0xfa, 2);
      expect(t.port.read(12, 4)).toBe(1);
      t.port.write(0, 3, 1);
      expect(t.port.read(0, 4)).toBe(0); // no test: reads are 0
      t.mmio.write(0, 0, 1);
      t.mmio.write(2048, 0x1234, 4); // mmio-no-eventfd: the byte at 2048 is 0x34, not 0xfa
      expect(t.mmio.read(12, 4)).toBe(0);
      t.dev.reset();
      expect(t.mmio.read(0, 4)).toBe(0);
      expect(t.mmio.read(40, 4)).toBe(0); // past the header
    } finally {
      t.close();
    }
  });
});
