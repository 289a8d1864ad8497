// A whole ACPI table set placed in guest memory, as a firmware's table
// loader would leave it (QEMU's acpi_build + bios-linker-loader, done here
// at build time because the addresses are known): the RSDP first, on a
// 16-byte boundary (so it can sit in the 0xe0000-0xfffff scan area), then
// the FACS (64-byte aligned), DSDT, FADT, MADT, RSDT and XSDT, each 16-byte
// aligned, with every pointer between them filled in.
import { buildDsdt, type DsdtDescription } from './dsdt';
import { buildFacs, buildFadt, type FadtDescription } from './fadt';
import { buildMadt, type MadtDescription } from './madt';
import { buildRsdp } from './rsdp';
import { buildRsdt, buildXsdt } from './rsdt';
import type { AcpiTableIds } from './table-header';

export interface AcpiTableSetDescription {
  /** The FADT without its FACS and DSDT pointers (the layout fills them). */
  fadt: Omit<FadtDescription, 'facs' | 'dsdt'>;
  /** Whether there is a FACS (hardware-reduced ACPI has none). */
  facs: boolean;
  dsdt: DsdtDescription;
  madt: MadtDescription;
  /** RSDP revision 2 adds the XSDT (revision 0: the RSDT only). */
  rsdpRevision: 0 | 2;
  ids?: AcpiTableIds;
}

/** One table at its guest-physical address. */
export interface PlacedTable {
  signature: string;
  address: bigint;
  bytes: Uint8Array;
}

export interface AcpiTableSet {
  rsdp: bigint;
  /** Every structure, in address order (the RSDP first). */
  tables: PlacedTable[];
  /** The first byte after the last table. */
  end: bigint;
}

const align = (a: bigint, to: bigint) => (a + to - 1n) & ~(to - 1n);

/** Lays the set out from `base`; a RangeError when it would pass `limit`. */
export function buildAcpiTableSet(d: AcpiTableSetDescription, base: bigint, limit: bigint): AcpiTableSet {
  if (base % 16n !== 0n) throw new RangeError(`the ACPI tables' base must be 16-byte aligned, got 0x${base.toString(16)}`);
  const ids = d.ids;
  const rsdpSize = d.rsdpRevision === 2 ? 36n : 20n;
  let next = base + rsdpSize;
  const tables: PlacedTable[] = [];
  const place = (signature: string, bytes: Uint8Array, alignment = 16n) => {
    const address = align(next, alignment);
    tables.push({ signature, address, bytes });
    next = address + BigInt(bytes.length);
    return address;
  };
  const facs = d.facs ? place('FACS', buildFacs(), 64n) : 0n;
  const dsdt = place('DSDT', buildDsdt(d.dsdt, ids));
  const fadt = place('FACP', buildFadt({ ...d.fadt, facs, dsdt }, ids));
  const madt = place('APIC', buildMadt(d.madt, ids));
  const rsdt = place('RSDT', buildRsdt([fadt, madt], ids));
  const xsdt = d.rsdpRevision === 2 ? place('XSDT', buildXsdt([fadt, madt], ids)) : 0n;
  if (next > limit) throw new RangeError(`the ACPI tables end at 0x${next.toString(16)}, past 0x${limit.toString(16)}`);
  tables.unshift({ signature: 'RSD PTR ', address: base, bytes: buildRsdp({ revision: d.rsdpRevision, rsdt, xsdt, oemId: ids?.oemId }) });
  return { rsdp: base, tables, end: next };
}
