// The tables a BIOS would leave for the kernel, built by node-kvm for the
// microvm machine (QEMU's hw/i386/acpi-microvm.c for ACPI, SeaBIOS's
// src/fw/mptable.c for the MP table), placed in the BIOS area that the
// memory map reserves:
//   0xe0000  the ACPI tables: RSDP (revision 2, in the 0xe0000-0xfffff scan
//            area), DSDT (\_S5 for the GED), FADT (hardware-reduced, revision
//            5: the GED's sleep and reset registers), MADT, RSDT, XSDT
//   0xf0000  the MP floating pointer, the MP configuration table after it
import { buildAcpiTableSet, type PlacedTable } from '../../acpi/table-set';
import { FADT_F, IAPC_BOOT_ARCH } from '../../acpi/fadt';
import { IOAPIC_BASE, pcInterruptOverrides } from '../../acpi/madt';
import { buildMpTable, MP_FLOATING_SIZE } from '../../acpi/mptable';
import { ACPI_GED_REG_RESET, ACPI_GED_REG_SLEEP_CTL, ACPI_GED_REG_SLEEP_STS, ACPI_GED_RESET_VALUE, ACPI_GED_SLP_TYP_S5, GED_MMIO_BASE_REGS } from '../../devices/acpi-ged';
import type { DirectBootWrite } from './direct-boot';

export const ACPI_TABLES_ADDR = 0xe0000n;
export const MP_TABLE_ADDR = 0xf0000n;
const MP_TABLE_END = 0x100000n;
/** hw/i386/acpi-microvm.c ACPI_BUILD_IOAPIC_ID; KVM's IOAPIC version (0x11) and local APIC version (0x14). */
const IOAPIC_ID = 0;
const IOAPIC_VERSION = 0x11;
const LAPIC_VERSION = 0x14;

export interface MicrovmTablesInput {
  /** The vCPUs' APIC IDs (the first is the BSP). */
  apicIds: readonly number[];
  /** CPUID leaf 1 EAX and EDX of the boot vCPU (the MP table's processor entries). */
  cpuSignature: number;
  cpuFeatures: number;
}

export interface MicrovmTables {
  rsdp: bigint;
  acpi: PlacedTable[];
  writes: DirectBootWrite[];
}

const gedReg = (offset: number) => ({ spaceId: 0 as const, bitWidth: 8, address: GED_MMIO_BASE_REGS + BigInt(offset) });

export function microvmTables(input: MicrovmTablesInput): MicrovmTables {
  const acpi = buildAcpiTableSet({
    rsdpRevision: 2,
    facs: false,
    dsdt: { s5SlpTyp: ACPI_GED_SLP_TYP_S5, revision: 2 },
    fadt: {
      revision: 5,
      minorVersion: 1,
      flags: FADT_F.HW_REDUCED_ACPI | FADT_F.RESET_REG_SUP,
      // the i8042 is absent, no VGA, MSIs work (the in-kernel LAPICs)
      iapcBootArch: IAPC_BOOT_ARCH.VGA_NOT_PRESENT,
      sleepControl: gedReg(ACPI_GED_REG_SLEEP_CTL),
      sleepStatus: gedReg(ACPI_GED_REG_SLEEP_STS),
      resetReg: gedReg(ACPI_GED_REG_RESET),
      resetValue: ACPI_GED_RESET_VALUE,
    },
    madt: {
      cpus: input.apicIds.map((apicId, uid) => ({ uid, apicId })),
      ioapics: [{ id: IOAPIC_ID, address: IOAPIC_BASE, gsiBase: 0 }],
      overrides: pcInterruptOverrides([]), // microvm has no PCI IRQs: only IRQ 0 on GSI 2
    },
  }, ACPI_TABLES_ADDR, MP_TABLE_ADDR);
  const mpConfigAddr = MP_TABLE_ADDR + BigInt(MP_FLOATING_SIZE);
  const mp = buildMpTable({
    cpus: input.apicIds.map((apicId) => ({ apicId, enabled: true })),
    apicVersion: LAPIC_VERSION,
    cpuSignature: input.cpuSignature,
    cpuFeatures: input.cpuFeatures,
    pciBus: false,
    ioapic: { id: IOAPIC_ID, version: IOAPIC_VERSION, address: IOAPIC_BASE },
    pciIrqs: [],
    irq0Override: true,
  }, mpConfigAddr);
  if (mpConfigAddr + BigInt(mp.config.length) > MP_TABLE_END) throw new RangeError(`the MP table of ${input.apicIds.length} CPUs does not fit below 1 MiB`);
  return {
    rsdp: acpi.rsdp,
    acpi: acpi.tables,
    writes: [
      ...acpi.tables.map((t) => ({ address: t.address, bytes: t.bytes })),
      { address: MP_TABLE_ADDR, bytes: mp.floating },
      { address: mpConfigAddr, bytes: mp.config },
    ],
  };
}
