// The PIIX4 PM's ACPI PCI hotplug block, "acpi-pci-hotplug" at 0xae00, 0x18
// bytes (QEMU 7.2 hw/acpi/pcihp.c, acpi_pcihp_init with ACPI_PCIHP_ADDR):
// the registers QEMU's DSDT reads to learn what was plugged or unplugged.
// Nothing is ever hotplugged here, so the up/down bitmaps stay 0 and an
// eject finds nothing it could remove (the built-in functions are not
// hotpluggable); what a guest observes is QEMU's:
//   0x00 UP, 0x04 DOWN: 0; 0x08 EJ: reads 0;
//   0x0c RMV: the slots that could take a hotplugged device, ~0 without the
//        slots of non-hotpluggable functions (0xfffffffc on the pc: the
//        i440FX in slot 0, PIIX3 in 1); ~0 for a bus select naming no bus;
//   0x10 SEL: the bus select, written as is (it survives a reset);
//   0x14 AIDX: the acpi-index of the slot written last; 0 (no device has one).
// A select of 256 or more makes every register read 0, SEL included
// (pci_read). Only 4-byte accesses are valid; others read 0 and write nothing.
import { MemoryRegion } from '../memory/region';
import { stateField, type DeviceStateValue, type SnapshotDevice } from '../snapshot/device-state';
import type { Device, DeviceMapping } from './device';
import type { PciBus } from './pci/pci-bus';

export const ACPI_PCIHP_ADDR = 0xae00;
export const ACPI_PCIHP_SIZE = 0x18;
const PCI_UP_BASE = 0x00;
const PCI_DOWN_BASE = 0x04;
const PCI_RMV_BASE = 0x0c;
const PCI_SEL_BASE = 0x10;
const PCI_AIDX_BASE = 0x14;
const ACPI_PCIHP_MAX_HOTPLUG_BUS = 256;
/** The root bus's select value (acpi_set_pci_info numbers the root bus 0). */
const ROOT_BSEL = 0;

export class AcpiPciHotplug implements Device, SnapshotDevice {
  readonly name = 'acpi-pci-hotplug';
  readonly snapshotName = 'acpi-pci-hotplug';
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];
  /** the root bus's hotplug_enable, worked out at reset from its functions */
  private rootHotplugEnable = 0xffffffff;
  private hotplugSelect = 0;

  /** `bus`: the root PCI bus (its functions are the pc's built-in, non-hotpluggable ones). */
  constructor(private readonly bus: PciBus) {
    if (typeof bus?.device !== 'function') throw new TypeError('new AcpiPciHotplug(bus): bus must be the root PciBus');
    this.region = MemoryRegion.io('acpi-pci-hotplug', ACPI_PCIHP_SIZE, {
      read: (offset) => this.read(Number(offset)),
      write: (offset, value) => {
        if (Number(offset) === PCI_SEL_BASE) this.hotplugSelect = Number(value & 0xffffffffn);
        // EJ finds no hotpluggable device to eject; AIDX finds no acpi-index: both leave every register as it was
      },
      valid: { minAccessSize: 4, maxAccessSize: 4 },
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(ACPI_PCIHP_ADDR), region: this.region }];
    this.reset();
  }

  /** pci_read */
  private read(offset: number): number {
    const bsel = this.hotplugSelect;
    if (bsel >= ACPI_PCIHP_MAX_HOTPLUG_BUS) return 0;
    switch (offset) {
      case PCI_UP_BASE:
      case PCI_DOWN_BASE:
        return 0;
      case PCI_RMV_BASE:
        return bsel === ROOT_BSEL ? this.rootHotplugEnable : 0xffffffff;
      case PCI_SEL_BASE:
        return bsel;
      case PCI_AIDX_BASE:
      default:
        return 0;
    }
  }

  /** acpi_pcihp_reset -> acpi_pcihp_update_hotplug_bus: no slot of a built-in function is removable. */
  reset(): void {
    let enable = 0xffffffff;
    for (const f of this.bus.functions) enable &= ~(1 << (f.devfn >> 3));
    this.rootHotplugEnable = enable >>> 0;
  }

  saveState(): DeviceStateValue {
    return { hotplugSelect: this.hotplugSelect };
  }

  loadState(state: DeviceStateValue): void {
    const sel = stateField(state, 'hotplugSelect', 'number', this.snapshotName);
    if (!Number.isInteger(sel) || sel < 0 || sel > 0xffffffff) throw new RangeError(`${this.snapshotName} state: hotplugSelect must be a 32-bit unsigned integer`);
    this.hotplugSelect = sel;
  }
}
