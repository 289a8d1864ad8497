// QEMU's pc-testdev (hw/misc/pc-testdev.c), the ISA device kvm-unit-tests
// drive from their x86 tests:
//   0xe0-0xe3  "pc-testdev-ioport": a 32-bit scratch register, accesses of
//              1-4 bytes at any of its bytes
//   0xe4       "pc-testdev-flush-page": a 4-byte write of a guest-physical
//              address makes QEMU mprotect the page's host memory off and on,
//              so that KVM drops its mappings of it (the guest sees no
//              change: node-kvm takes the write and does nothing)
//   0xe8-0xeb  "pc-testdev-ioport-byte": the same register, byte by byte
//   0x2000-    "pc-testdev-irq-line": a byte write of v at 0x2000 + n sets
//   0x2017     ISA IRQ n to v != 0 (n >= 16: QEMU aborts on its assertion
//              in isa_get_irq; node-kvm ignores the write)
//   0xff000000 "pc-testdev-iomem": 64 KiB of device memory, read as written
import { MemoryRegion } from '../memory/region';
import { type DeviceStateValue, type SnapshotDevice, stateField } from '../snapshot/device-state';
import type { Device, DeviceMapping } from './device';
import type { IrqLine } from './irq-line';

export const PC_TESTDEV_IOMEM_ADDR = 0xff000000n;
const IOMEM_LEN = 0x10000;
const IRQ_LINES = 24;

export class PcTestdev implements Device, SnapshotDevice {
  readonly name = 'pc-testdev';
  readonly snapshotName = 'pc-testdev';
  readonly mappings: readonly DeviceMapping[];
  private ioportData = 0;
  private readonly iomemBuf = new Uint8Array(IOMEM_LEN);

  /** `isaIrqs`: the ISA bus's IRQ lines (0-15). */
  constructor(private readonly isaIrqs: readonly IrqLine[]) {
    // test_ioport_read/write: the bytes of the access at (addr & 3) of the register
    const ioport = {
      read: (offset: bigint, size: number) => {
        const shift = Number(offset & 3n) * 8;
        return ((this.ioportData >>> shift) & maskOf(size)) >>> 0;
      },
      write: (offset: bigint, value: bigint, size: number) => {
        const shift = Number(offset & 3n) * 8;
        const mask = (maskOf(size) << shift) >>> 0;
        this.ioportData = ((this.ioportData & ~mask) | Number((value << BigInt(shift)) & 0xffffffffn)) >>> 0;
      },
    };
    const iomem = MemoryRegion.io('pc-testdev-iomem', IOMEM_LEN, {
      read: (offset, size) => {
        let v = 0n;
        for (let j = 0; j < size; j++) v |= BigInt(this.iomemBuf[Number(offset) + j]) << BigInt(8 * j);
        return v;
      },
      write: (offset, value, size) => {
        for (let j = 0; j < size; j++) this.iomemBuf[Number(offset) + j] = Number((value >> BigInt(8 * j)) & 0xffn);
      },
    });
    this.mappings = [
      { space: 'io', address: 0xe0n, region: MemoryRegion.io('pc-testdev-ioport', 4, ioport) },
      {
        space: 'io', address: 0xe4n, region: MemoryRegion.io('pc-testdev-flush-page', 4, {
          read: () => 0,
          write: () => { /* the host-side page flush has no guest-visible effect */ },
          valid: { minAccessSize: 4, maxAccessSize: 4 },
        }),
      },
      {
        space: 'io', address: 0xe8n, region: MemoryRegion.io('pc-testdev-ioport-byte', 4, {
          ...ioport, valid: { minAccessSize: 1, maxAccessSize: 4 }, impl: { minAccessSize: 1, maxAccessSize: 1 },
        }),
      },
      {
        space: 'io', address: 0x2000n, region: MemoryRegion.io('pc-testdev-irq-line', IRQ_LINES, {
          write: (offset, value) => this.isaIrqs[Number(offset)]?.set(value !== 0n),
          valid: { minAccessSize: 1, maxAccessSize: 1 },
        }),
      },
      { space: 'memory', address: PC_TESTDEV_IOMEM_ADDR, region: iomem },
    ];
  }

  /** The device's memory, for tests (a copy). */
  iomem(): Uint8Array {
    return this.iomemBuf.slice();
  }

  saveState(): DeviceStateValue {
    return { ioportData: this.ioportData, iomem: this.iomemBuf.slice() };
  }

  loadState(state: DeviceStateValue): void {
    const data = stateField(state, 'ioportData', 'number', 'pc-testdev');
    if (!Number.isInteger(data) || data < 0 || data > 0xffffffff) throw new RangeError('pc-testdev state: ioportData must be a 32-bit unsigned integer');
    const buf = (state as Record<string, unknown>).iomem;
    if (!(buf instanceof Uint8Array) || buf.length !== IOMEM_LEN) throw new TypeError(`pc-testdev state: iomem must be a Uint8Array of ${IOMEM_LEN} bytes`);
    this.ioportData = data;
    this.iomemBuf.set(buf);
  }
}

function maskOf(size: number): number {
  return size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
}
