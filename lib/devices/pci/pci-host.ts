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
 */
import { MemoryRegion } from '../../memory/region';
import type { PciBus } from './pci-bus';

export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** bit 31 of the address latch: the data port reaches configuration space */
export const PCI_CONFIG_ENABLE = 0x80000000;

/** The state a snapshot keeps: the address latch. */
export interface PciHostState {
  configReg: number;
}

export class PciHost {
  /** the address latch (PCIHostState.config_reg) */
  private configReg = 0;
  readonly confIdx: MemoryRegion;
  readonly confData: MemoryRegion;

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
  }

  /** Where the two registers go in the I/O address space (both priority 0). */
  get mappings(): { space: 'io'; address: bigint; region: MemoryRegion }[] {
    return [
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

  loadState(state: PciHostState): void {
    const v = state?.configReg;
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
