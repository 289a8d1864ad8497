// The MADT ("APIC", ACPI 6.4, 5.2.12; QEMU's acpi_build_madt in
// hw/i386/acpi-common.c): the local APIC address and PCAT_COMPAT, then a
// Processor Local APIC entry per CPU, the I/O APICs, the interrupt source
// overrides (QEMU's pc: ISA IRQ 0 on GSI 2, and the PCI IRQs 5, 9, 10, 11
// level-triggered, active high) and a Local APIC NMI on LINT1 of every CPU.
import { toUint } from '../util/integers';
import { acpiTable, type AcpiTableIds, u32 } from './table-header';

export const LAPIC_BASE = 0xfee00000;
export const IOAPIC_BASE = 0xfec00000;
/** MADT flags: PCAT_COMPAT (the machine has dual 8259s too). */
export const MADT_PCAT_COMPAT = 1;
/** MPS INTI flags (table 5.26): active high (01) | level triggered (11 << 2), what QEMU gives the PCI IRQs. */
export const MPS_INTI_ACTIVE_HIGH_LEVEL = 0x000d;
/** QEMU's ACPI_BUILD_PCI_IRQS (hw/i386/acpi-build.h): the ISA IRQs PCI INTx can be routed to. */
export const PC_PCI_IRQS = [5, 9, 10, 11] as const;

export interface MadtCpu {
  /** ACPI processor UID (QEMU: the CPU index). */
  uid: number;
  apicId: number;
  /** Enabled (default true); a present-but-offline CPU is listed disabled. */
  enabled?: boolean;
}

export interface MadtIoapic {
  id: number;
  address: number;
  gsiBase: number;
}

/** An ISA IRQ that reaches the I/O APIC on another GSI or with other flags. */
export interface MadtOverride {
  source: number;
  gsi: number;
  /** MPS INTI flags (0: conforms to the bus). */
  flags: number;
}

export interface MadtDescription {
  cpus: readonly MadtCpu[];
  ioapics: readonly MadtIoapic[];
  overrides: readonly MadtOverride[];
  /** The LINT pin of the Local APIC NMI entry for all CPUs (QEMU: 1), or null for none. */
  nmiLint?: number | null;
  /** Default LAPIC_BASE. */
  lapicAddress?: number;
}

/** QEMU's pc/microvm overrides: IRQ 0 on GSI 2 (apic_xrupt_override), and each of `pciIrqs` level-high. */
export function pcInterruptOverrides(pciIrqs: readonly number[]): MadtOverride[] {
  return [{ source: 0, gsi: 2, flags: 0 }, ...pciIrqs.map((irq) => ({ source: irq, gsi: irq, flags: MPS_INTI_ACTIVE_HIGH_LEVEL }))];
}

export function buildMadt(d: MadtDescription, ids?: AcpiTableIds): Uint8Array {
  if (!Array.isArray(d.cpus) || d.cpus.length === 0) throw new RangeError('the MADT needs at least one CPU');
  const nmi = d.nmiLint === undefined ? 1 : d.nmiLint;
  const size = 8 + 8 * d.cpus.length + 12 * d.ioapics.length + 10 * d.overrides.length + (nmi === null ? 0 : 6);
  const body = new Uint8Array(size);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, u32(d.lapicAddress ?? LAPIC_BASE, 'lapicAddress'), true);
  dv.setUint32(4, MADT_PCAT_COMPAT, true);
  let at = 8;
  for (const [i, c] of d.cpus.entries()) {
    // x2APIC IDs (>= 255) need Processor Local x2APIC entries, which these tables do not make.
    body.set([0, 8, toUint(c.uid, 8, `cpus[${i}].uid`), toUint(c.apicId, 8, `cpus[${i}].apicId`)], at);
    dv.setUint32(at + 4, c.enabled === false ? 0 : 1, true);
    at += 8;
  }
  for (const [i, io] of d.ioapics.entries()) {
    body.set([1, 12, toUint(io.id, 8, `ioapics[${i}].id`), 0], at);
    dv.setUint32(at + 4, u32(io.address, `ioapics[${i}].address`), true);
    dv.setUint32(at + 8, u32(io.gsiBase, `ioapics[${i}].gsiBase`), true);
    at += 12;
  }
  for (const [i, o] of d.overrides.entries()) {
    body.set([2, 10, 0, toUint(o.source, 8, `overrides[${i}].source`)], at); // bus 0: ISA
    dv.setUint32(at + 4, u32(o.gsi, `overrides[${i}].gsi`), true);
    dv.setUint16(at + 8, o.flags, true);
    at += 10;
  }
  if (nmi !== null) {
    body.set([4, 6, 0xff], at); // all processors
    dv.setUint16(at + 3, 0, true);
    body[at + 5] = toUint(nmi, 8, 'nmiLint');
  }
  return acpiTable('APIC', 1, body, ids);
}
