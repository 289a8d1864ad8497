// QEMU's acpi-ged (hw/acpi/generic_event_device.c) as the microvm machine
// maps it, reduced to what a hardware-reduced ACPI guest uses without
// hotplug: the event selector (acpi-ged, 4 bytes: no events, reads 0) and
// the register block (acpi-ged-regs, 3 bytes) that the FADT names as its
// sleep control, sleep status and reset registers. A write of SLP_EN with
// SLP_TYP 5 to the sleep control register powers the machine off (S5); the
// reset value 0x42 to the reset register resets it.
import { MemoryRegion } from '../memory/region';
import type { Device, DeviceMapping } from './device';

/** hw/i386/microvm.h GED_MMIO_BASE and GED_MMIO_BASE_REGS. */
export const GED_MMIO_BASE = 0xfea00000n;
export const GED_MMIO_BASE_REGS = GED_MMIO_BASE + 0x200n;
/** include/hw/acpi/generic_event_device.h: the registers' offsets and values. */
export const ACPI_GED_REG_SLEEP_CTL = 0;
export const ACPI_GED_REG_SLEEP_STS = 1;
export const ACPI_GED_REG_RESET = 2;
export const ACPI_GED_RESET_VALUE = 0x42;
export const ACPI_GED_SLP_TYP_S5 = 5;
const ACPI_GED_SLP_TYP_POS = 2;
const ACPI_GED_SLP_TYP_MASK = 7;
const ACPI_GED_SLP_EN = 0x20;

export interface AcpiGedOptions {
  /** The guest entered S5. */
  onPowerOff(): void;
  /** The guest wrote the reset value to the reset register. */
  onReset(): void;
}

export class AcpiGed implements Device {
  readonly name = 'acpi-ged';
  readonly mappings: readonly DeviceMapping[];

  constructor(options: AcpiGedOptions) {
    const events = MemoryRegion.io('acpi-ged', 4, {
      read: () => 0, // no event is ever selected here (no hotplug, no power button)
      write: () => undefined,
      valid: { minAccessSize: 4, maxAccessSize: 4 },
    });
    const regs = MemoryRegion.io('acpi-ged-regs', 3, {
      read: () => 0, // ged_regs_read: the registers read as zero
      write: (offset, value) => {
        const v = Number(value & 0xffn);
        if (offset === BigInt(ACPI_GED_REG_SLEEP_CTL)) {
          if ((v & ACPI_GED_SLP_EN) && ((v >> ACPI_GED_SLP_TYP_POS) & ACPI_GED_SLP_TYP_MASK) === ACPI_GED_SLP_TYP_S5) options.onPowerOff();
        } else if (offset === BigInt(ACPI_GED_REG_RESET)) {
          if (v === ACPI_GED_RESET_VALUE) options.onReset();
        }
      },
      valid: { minAccessSize: 1, maxAccessSize: 1 },
    });
    this.mappings = [
      { space: 'memory', address: GED_MMIO_BASE, region: events },
      { space: 'memory', address: GED_MMIO_BASE_REGS, region: regs },
    ];
  }
}
