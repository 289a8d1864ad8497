// QEMU's pci-testdev (hw/misc/pci-testdev.c, "PCI Test Device", 1b36:0005):
// the device kvm-unit-tests' PCI test uses to check that writes to a BAR
// reach the VMM, with and without KVM ioeventfds. BAR 0 is 4 KiB of memory
// ("pci-testdev-mmio"), BAR 1 256 ports ("pci-testdev-portio"). Each BAR
// offers three tests, "no-eventfd", "wildcard-eventfd" and
// "datamatch-eventfd"; writing a test's number to offset 0 starts it. The
// started test's header is what reads see (from offset 0):
//   u8 test, u8 width (1), u16 pad, le32 offset, u8 data, u8 pad[3],
//   le32 count, then the name ("mmio-no-eventfd", ...) NUL-terminated
// and each 1-byte write at `offset` (of `data` for datamatch) counts one.
//
// QEMU registers a KVM ioeventfd for the two eventfd tests: the writes the
// eventfd matches never reach the device, so `count` stays 0 for them, and
// the guest can tell. node-kvm keeps the device in-process and gives the
// same answers: a write the eventfd would take (at `offset`, 1 byte, or of
// any length for the memory wildcard test, KVM_CAP_IOEVENTFD_ANY_LENGTH;
// of `data` for datamatch) is dropped; any other one is handled byte by
// byte as QEMU's ops (impl.max_access_size 1) do.
import { MemoryRegion } from '../memory/region';
import type { PciBus } from './pci/pci-bus';
import { PCI_BASE_ADDRESS_SPACE_IO, PciDevice } from './pci/pci-device';

/** A 32-bit memory BAR (PCI_BASE_ADDRESS_SPACE_MEMORY) */
const PCI_BASE_ADDRESS_SPACE_MEMORY = 0;

export const PCI_VENDOR_ID_REDHAT = 0x1b36;
export const PCI_DEVICE_ID_REDHAT_TEST = 0x0005;
export const PCI_CLASS_OTHERS = 0xff00;
const IOTEST_IOSIZE = 128;
const IOTEST_MEMSIZE = 2048;
const IOTEST_DATAMATCH = 0xfa;
const IOTEST_NOMATCH = 0xce;
const TESTS = ['no-eventfd', 'wildcard-eventfd', 'datamatch-eventfd'] as const;
const TYPES = ['mmio', 'portio'] as const;
/** offsetof(PCITestDevHdr, count) and sizeof(PCITestDevHdr) */
const HDR_COUNT = 12;
const HDR_SIZE = 16;

interface IoTest {
  /** the header as the guest reads it */
  hdr: Uint8Array;
  offset: number;
  data: number;
  matchData: boolean;
  hasNotifier: boolean;
  /** bytes the ioeventfd matches; 0 = any length */
  size: number;
}

function makeTest(i: number): IoTest {
  const type = TYPES[Math.floor(i / TESTS.length)];
  const test = TESTS[i % TESTS.length];
  const name = new TextEncoder().encode(`${type}-${test}`);
  const hdr = new Uint8Array(HDR_SIZE + name.length + 1);
  const offset = (type === 'mmio' ? IOTEST_MEMSIZE : IOTEST_IOSIZE) + i;
  const matchData = test !== 'wildcard-eventfd';
  const data = matchData ? IOTEST_DATAMATCH : IOTEST_NOMATCH;
  hdr[0] = i;
  hdr[1] = 1; // IOTEST_ACCESS_WIDTH
  new DataView(hdr.buffer).setUint32(4, offset, true);
  hdr[8] = data;
  hdr.set(name, HDR_SIZE);
  return { hdr, offset, data, matchData, hasNotifier: test !== 'no-eventfd', size: type === 'mmio' && !matchData ? 0 : 1 };
}

export class PciTestdev extends PciDevice {
  readonly mmio: MemoryRegion;
  readonly portio: MemoryRegion;
  private readonly tests = Array.from({ length: TESTS.length * TYPES.length }, (_, i) => makeTest(i));
  /** the started test's index, or -1 */
  private current = -1;

  constructor(bus: PciBus, devfn: number) {
    super(bus, devfn, { name: 'pci-testdev', vendorId: PCI_VENDOR_ID_REDHAT, deviceId: PCI_DEVICE_ID_REDHAT_TEST, classId: PCI_CLASS_OTHERS });
    const ops = (type: number) => ({
      read: (offset: bigint, size: number) => this.read(Number(offset), size),
      write: (offset: bigint, value: bigint, size: number) => this.write(Number(offset), value, size, type),
      // The guest's access whole, unaligned too (QEMU splits it into bytes after KVM's ioeventfd saw it whole: so does write()).
      valid: { unaligned: true, maxAccessSize: 8 },
      impl: { unaligned: true, minAccessSize: 1, maxAccessSize: 8 },
    });
    this.mmio = MemoryRegion.io('pci-testdev-mmio', IOTEST_MEMSIZE * 2, ops(0));
    this.portio = MemoryRegion.io('pci-testdev-portio', IOTEST_IOSIZE * 2, ops(1));
    this.registerBar(0, PCI_BASE_ADDRESS_SPACE_MEMORY, this.mmio);
    this.registerBar(1, PCI_BASE_ADDRESS_SPACE_IO, this.portio);
    this.reset();
  }

  /** Bytes of the started test's header, byte by byte (beyond its end, and with no test started: 0). */
  private read(addr: number, size: number): bigint {
    let v = 0n;
    for (let j = 0; j < size; j++) v |= BigInt(this.readByte(addr + j)) << BigInt(8 * j);
    return v;
  }

  private readByte(addr: number): number {
    if (this.current < 0) return 0;
    const { hdr } = this.tests[this.current];
    return addr + 1 >= hdr.length ? 0 : hdr[addr]; // pci_testdev_read: addr + size >= bufsize reads 0
  }

  private write(addr: number, value: bigint, size: number, type: number): void {
    if (this.current >= 0) {
      const t = this.tests[this.current];
      const eventfdTakes = t.hasNotifier && Math.floor(this.current / TESTS.length) === type && addr === t.offset &&
        (t.size === 0 || t.size === size) && (!t.matchData || value === BigInt(t.data));
      if (eventfdTakes) return;
    }
    for (let j = 0; j < size; j++) this.writeByte(addr + j, Number((value >> BigInt(8 * j)) & 0xffn), type);
  }

  /** pci_testdev_write with a 1-byte access */
  private writeByte(addr: number, val: number, type: number): void {
    if (addr === 0) {
      this.current = -1;
      if (val >= TESTS.length) return;
      const t = type * TESTS.length + val;
      new DataView(this.tests[t].hdr.buffer).setUint32(HDR_COUNT, 0, true);
      this.current = t;
      return;
    }
    if (this.current < 0) return;
    const t = this.tests[this.current];
    if (addr !== t.offset) return;
    if (t.matchData && val !== t.data) return;
    const dv = new DataView(t.hdr.buffer);
    dv.setUint32(HDR_COUNT, (dv.getUint32(HDR_COUNT, true) + 1) >>> 0, true);
  }

  /** qdev_pci_testdev_reset: no test is started. */
  protected override resetDevice(): void {
    this.current = -1;
  }

  override close(): void {
    super.close();
    this.mmio.close();
    this.portio.close();
  }
}
