/**
 * The PCI side of the PIIX3 IDE function 00:01.1, 8086:7010 (QEMU 7.2
 * hw/ide/piix.c, "piix3-ide"): its configuration space and the bus-master
 * DMA BAR.  The ATA channels (legacy ports 0x1f0/0x170, IRQ 14/15) are the
 * IDE model's. With `bmdma`, the function makes the BMDMA block (ide/bmdma.ts)
 * as BAR 4, its engines moving data through the function's bus-master
 * address space (so only while the guest enables bus mastering), and resets
 * and closes it with itself (piix_ide_reset resets both engines).
 *
 * - prog-if 0x80 (bus master, both channels in ISA-compatible mode), class
 *   0x0101, status DEVSEL medium | fast back-to-back (piix_ide_reset);
 * - BAR 4: `piix-bmdma-container`, 16 bytes of I/O, mapped at priority 1
 *   where the firmware puts it (pci_register_bar).
 */
import { MemoryRegion } from '../memory/region';
import { PiixBmdma } from './ide/bmdma';
import { PCI_VENDOR_ID_INTEL } from './i440fx';
import type { PciBus } from './pci/pci-bus';
import { PCI_BASE_ADDRESS_SPACE_IO, PCI_COMMAND, PCI_STATUS, PciDevice } from './pci/pci-device';

export const PCI_DEVICE_ID_INTEL_82371SB_1 = 0x7010;
export const PCI_CLASS_STORAGE_IDE = 0x0101;
/** devfn 00:01.1 on the pc machine */
export const PIIX3_IDE_DEVFN = 0x09;
export const PIIX_IDE_BMDMA_BAR = 4;
export const PIIX_IDE_BMDMA_SIZE = 16;
const PCI_STATUS_FAST_BACK = 0x0080;
const PCI_STATUS_DEVSEL_MEDIUM = 0x0200;

export class Piix3IdePci extends PciDevice {
  /** BAR 4's region: the BMDMA block's, or an empty container without one */
  readonly bmdmaContainer: MemoryRegion;
  /** The bus-master DMA engines (with options.bmdma), for the two IDE channels */
  readonly bmdma: PiixBmdma | null;

  constructor(bus: PciBus, devfn = PIIX3_IDE_DEVFN, options: { bmdma?: boolean } = {}) {
    super(bus, devfn, {
      name: 'piix3-ide', vendorId: PCI_VENDOR_ID_INTEL, deviceId: PCI_DEVICE_ID_INTEL_82371SB_1, classId: PCI_CLASS_STORAGE_IDE, progIf: 0x80,
    });
    this.bmdma = options.bmdma ? new PiixBmdma({ memory: this.dmaAddressSpace ?? undefined }) : null;
    this.bmdmaContainer = this.bmdma?.region ?? MemoryRegion.container('piix-bmdma-container', PIIX_IDE_BMDMA_SIZE);
    this.registerBar(PIIX_IDE_BMDMA_BAR, PCI_BASE_ADDRESS_SPACE_IO, this.bmdmaContainer);
    this.reset(); // the state QEMU's machine reset leaves before the guest runs
  }

  /** piix_ide_reset's configuration part (the drives' reset is the IDE model's) */
  protected override resetDevice(): void {
    const c = this.config;
    c[PCI_COMMAND] = 0;
    c[PCI_COMMAND + 1] = 0;
    c[PCI_STATUS] = PCI_STATUS_FAST_BACK;
    c[PCI_STATUS + 1] = PCI_STATUS_DEVSEL_MEDIUM >> 8;
    this.bmdma?.reset();
  }

  /** Closes BAR 4 (unmapping it) and the BMDMA block in it. */
  override close(): void {
    super.close();
    if (this.bmdma) this.bmdma.close();
    else this.bmdmaContainer.close();
  }
}
