// The RSDT and the XSDT (ACPI 6.4, 5.2.7 and 5.2.8; QEMU's build_rsdt and
// build_xsdt): a header and the addresses of the other tables (except the
// FACS and DSDT, which the FADT points to), 32-bit in the RSDT, 64-bit in
// the XSDT.
import { toU64 } from '../util/integers';
import { acpiTable, type AcpiTableIds, u32 } from './table-header';

export function buildRsdt(tables: readonly (bigint | number)[], ids?: AcpiTableIds): Uint8Array {
  const body = new Uint8Array(4 * tables.length);
  const dv = new DataView(body.buffer);
  tables.forEach((a, i) => dv.setUint32(4 * i, u32(a, `RSDT entry ${i}`), true));
  return acpiTable('RSDT', 1, body, ids);
}

export function buildXsdt(tables: readonly (bigint | number)[], ids?: AcpiTableIds): Uint8Array {
  const body = new Uint8Array(8 * tables.length);
  const dv = new DataView(body.buffer);
  tables.forEach((a, i) => dv.setBigUint64(8 * i, toU64(a, `XSDT entry ${i}`), true));
  return acpiTable('XSDT', 1, body, ids);
}
