/**
 * A PCI root bus (QEMU 7.2 hw/pci/pci.c PCIBus): the functions plugged in by
 * devfn, the memory and I/O regions their BARs map into, and configuration
 * access by address (pci_data_read / pci_data_write).
 */
import type { MemoryRegion } from '../../memory/region';
import { toUint } from '../../util/integers';
import { PCI_CONFIG_SPACE_SIZE, type PciDevice } from './pci-device';

export class PciBus {
  private readonly devices: (PciDevice | undefined)[] = new Array(256);

  /**
   * `memory` and `io` are the bus's address_space_mem / address_space_io:
   * on the pc machine the `pci` container and the `io` root. `dma` is what
   * bus masters reach (the `system` root on the pc machine): with it, every
   * function gets its bus-master address space (pci-bus-master.ts).
   */
  constructor(readonly name: string, readonly memory: MemoryRegion, readonly io: MemoryRegion, readonly dma: MemoryRegion | null = null) {}

  /** @internal PciDevice's constructor: claims its devfn */
  _plug(dev: PciDevice): void {
    const have = this.devices[dev.devfn];
    if (have) {
      const where = `slot ${dev.devfn >> 3} function ${dev.devfn & 7}`;
      throw new RangeError(`PCI: ${where} not available for ${dev.name}, in use by ${have.name}; choose a free devfn`);
    }
    this.devices[dev.devfn] = dev;
  }

  /** The function at `devfn`, if any. */
  device(devfn: number): PciDevice | undefined {
    return this.devices[devfn];
  }

  /** The functions in devfn order. */
  get functions(): PciDevice[] {
    return this.devices.filter((d): d is PciDevice => d !== undefined);
  }

  /**
   * pci_dev_find_by_addr: bits 23-16 of a configuration address are the bus
   * number (this root bus is 0; there are no bridges), 15-8 the devfn.
   */
  private find(addr: number, len: number, where: string): PciDevice | undefined {
    toUint(addr, 32, `${where}: configuration address`);
    if (len !== 1 && len !== 2 && len !== 4) throw new RangeError(`${where}: access size must be 1, 2 or 4 bytes, got ${String(len)}`);
    return ((addr >>> 16) & 0xff) === 0 ? this.devices[(addr >>> 8) & 0xff] : undefined;
  }

  /**
   * pci_data_read: `len` bytes at the register in bits 7-0 of `addr`, or all
   * ones when no function answers.  An access running past the end of the
   * configuration space is cut short (pci_host_config_read_common).
   */
  dataRead(addr: number, len: number): number {
    const dev = this.find(addr, len, `${this.name} config read`);
    if (!dev) return 0xffffffff;
    const reg = addr & (PCI_CONFIG_SPACE_SIZE - 1);
    return dev.configRead(reg, Math.min(len, PCI_CONFIG_SPACE_SIZE - reg));
  }

  /** pci_data_write: writes to an absent function are dropped. */
  dataWrite(addr: number, value: number, len: number): void {
    toUint(value, 32, `${this.name} config write: value`);
    const dev = this.find(addr, len, `${this.name} config write`);
    if (!dev) return;
    const reg = addr & (PCI_CONFIG_SPACE_SIZE - 1);
    const n = Math.min(len, PCI_CONFIG_SPACE_SIZE - reg);
    dev.configWrite(reg, n === 4 ? value : value % 2 ** (8 * n), n);
  }

  /** Resets every function (pci_bus_reset). */
  reset(): void {
    for (const d of this.functions) d.reset();
  }
}
