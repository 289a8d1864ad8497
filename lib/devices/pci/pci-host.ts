/**
 * PCI configuration mechanism #1 of a host bridge (QEMU 7.2 hw/pci/pci_host.c,
 * the little-endian pci_host_conf_le_ops / pci_host_data_le_ops):
 *
 * - `pci-conf-idx` (I/O 0xcf8, 4 bytes): only a 32-bit write at 0xcf8 sets
 *   the address latch; any read returns the latch, truncated to the access
 *   size (a byte read at 0xcfa returns the low byte, as in QEMU);
 * - `pci-conf-data` (I/O 0xcfc, 4 bytes): with bit 31 of the latch set, an
 *   access of 1, 2 or 4 bytes at 0xcfc + n reaches register (latch | n) & 0xff
 *   of the function the latch selects; absent functions read all ones, and so
 *   does everything while bit 31 is clear.
 *
 * As a Device it is the host bridge's sysbus part (QEMU's i440FX-pcihost):
 * its two registers are its fixed mappings; reset resets the bus.
 */
import { MemoryRegion } from '../../memory/region';
import type { DeviceStateValue, SnapshotDevice } from '../../snapshot/device-state';
import type { Device, DeviceMapping } from '../device';
import type { PciBus } from './pci-bus';

export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** bit 31 of the address latch: the data port reaches configuration space */
export const PCI_CONFIG_ENABLE = 0x80000000;

/** The state a snapshot keeps: the address latch. */
export type PciHostState = { configReg: number };

export class PciHost implements Device, SnapshotDevice {
  /** QEMU's type name of the host bridge (the i440FX's, the only one node-kvm has) */
  readonly name = 'i440FX-pcihost';
  readonly snapshotName = 'i440FX-pcihost';
  /** the address latch (PCIHostState.config_reg) */
  private configReg = 0;
  readonly confIdx: MemoryRegion;
  readonly confData: MemoryRegion;
  /** The two registers in the I/O space, at 0xcf8 and 0xcfc (sysbus_add_io, both priority 0). */
  readonly mappings: readonly DeviceMapping[];

  constructor(readonly bus: PciBus) {
    this.confIdx = MemoryRegion.io('pci-conf-idx', 4, {
      endianness: 'little',
      read: () => this.configReg,
      write: (offset, value, size) => {
        if (offset === 0n && size === 4) this.configReg = Number(value);
      },
    });
    this.confData = MemoryRegion.io('pci-conf-data', 4, {
      endianness: 'little',
      read: (offset, size) => {
        if (!(this.configReg & PCI_CONFIG_ENABLE)) return 0xffffffff;
        return bus.dataRead((this.configReg | Number(offset & 3n)) >>> 0, size);
      },
      write: (offset, value, size) => {
        if (this.configReg & PCI_CONFIG_ENABLE) bus.dataWrite((this.configReg | Number(offset & 3n)) >>> 0, Number(value), size);
      },
    });
    this.mappings = [
      { space: 'io', address: BigInt(PCI_CONFIG_ADDRESS_PORT), region: this.confIdx },
      { space: 'io', address: BigInt(PCI_CONFIG_DATA_PORT), region: this.confData },
    ];
  }

  /** A system reset resets the functions on the bus; QEMU keeps the latch. */
  reset(): void {
    this.bus.reset();
  }

  saveState(): PciHostState {
    return { configReg: this.configReg };
  }

  loadState(state: DeviceStateValue): void {
    const v = (state as Partial<PciHostState> | null)?.configReg;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new RangeError(`PCI host state: configReg must be a 32-bit unsigned integer, got ${String(v)}`);
    }
    this.configReg = v;
  }

  /** Unmaps nothing (the owner maps the regions); closes both regions. */
  close(): void {
    this.confIdx.close();
    this.confData.close();
  }
}
