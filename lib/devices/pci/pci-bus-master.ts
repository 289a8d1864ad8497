/**
 * A PCI function's view of memory as a bus master (QEMU 7.2 hw/pci/pci.c
 * pci_init_bus_master): the address space named after the function, over a
 * "bus master container" holding the "bus master" alias of the bus's DMA
 * root (system memory on the pc machine). The alias is enabled exactly while
 * the command register's Bus Master bit is set, so DMA through this space
 * reaches memory only then, and `info mtree` lists it as QEMU does.
 */
import { AddressSpace } from '../../memory/address-space';
import { MemoryRegion } from '../../memory/region';
import { TWO_64 } from '../../memory/size';

export class PciBusMaster {
  readonly container: MemoryRegion;
  readonly alias: MemoryRegion;
  readonly addressSpace: AddressSpace;

  constructor(name: string, dmaRoot: MemoryRegion) {
    this.container = MemoryRegion.container('bus master container', TWO_64);
    this.alias = MemoryRegion.alias('bus master', dmaRoot, 0n, dmaRoot.size);
    this.alias.setEnabled(false);
    this.container.addSubregion(0n, this.alias);
    this.addressSpace = new AddressSpace(this.container, name);
  }

  /** Bus Master enable (PCI_COMMAND_MASTER) changed, or may have. */
  setEnabled(on: boolean): void {
    if (this.alias.enabled !== on) this.alias.setEnabled(on);
  }

  close(): void {
    this.addressSpace.destroy();
    this.alias.close();
    this.container.close();
  }
}
