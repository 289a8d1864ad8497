// The PIIX4 PM's legacy ACPI CPU hotplug block, "acpi-cpu-hotplug" at 0xaf00,
// 32 bytes (QEMU 7.2 hw/acpi/cpu_hotplug.c, legacy_acpi_cpu_hotplug_init
// with ACPI_CPU_HOTPLUG_IO_BASE): a bitmap of the present CPUs by APIC ID,
// bit n of byte n/8, read a byte at a time. Nothing is hotplugged here, so it
// only shows the boot CPUs. Writes change nothing, except that QEMU takes a
// 0 written to byte 0 as the firmware's switch to the modern CPU hotplug
// interface (hw/acpi/cpu.c), which is not modelled: that write is ignored
// too. No state beyond the CPU count it is built with.
import { MemoryRegion } from '../memory/region';
import type { Device, DeviceMapping } from './device';

export const ACPI_CPU_HOTPLUG_IO_BASE = 0xaf00;
/** ACPI_GPE_PROC_LEN: 256 APIC IDs. */
export const ACPI_GPE_PROC_LEN = 32;

export class AcpiCpuHotplug implements Device {
  readonly name = 'acpi-cpu-hotplug';
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];
  private readonly sts = new Uint8Array(ACPI_GPE_PROC_LEN);

  /** `cpus`: the boot CPUs, APIC IDs 0 to cpus - 1 (acpi_set_cpu_present_bit). */
  constructor(cpus: number) {
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > ACPI_GPE_PROC_LEN * 8) {
      throw new RangeError(`new AcpiCpuHotplug(cpus): cpus must be an integer from 1 to ${ACPI_GPE_PROC_LEN * 8}, got ${String(cpus)}`);
    }
    for (let id = 0; id < cpus; id++) this.sts[id >> 3] |= 1 << (id & 7);
    this.region = MemoryRegion.io('acpi-cpu-hotplug', ACPI_GPE_PROC_LEN, {
      read: (offset) => this.sts[Number(offset)],
      write: () => undefined,
      valid: { minAccessSize: 1, maxAccessSize: 1 },
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(ACPI_CPU_HOTPLUG_IO_BASE), region: this.region }];
  }
}
