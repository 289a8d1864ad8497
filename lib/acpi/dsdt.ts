// A minimal DSDT (ACPI 6.4, 5.2.11.1): the definition block holds only the
// \_S5 system state package (ACPI 6.4, 7.4.2), so an OS can power the
// machine off with the SLP_TYP it gives, written in AML (ACPI 6.4, 20.2) by
// the few encoders below. QEMU's pc DSDT has Package(4){0, 0, 0, 0} for
// the PIIX4 PM (hw/i386/acpi-build.c), microvm's Package(4){5, 0, 0, 0} for
// the GED sleep register (hw/i386/acpi-microvm.c).
import { toUint } from '../util/integers';
import { acpiTable, type AcpiTableIds } from './table-header';

const NAME_OP = 0x08;
const PACKAGE_OP = 0x12;
const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const BYTE_PREFIX = 0x0a;

/** An AML integer of at most a byte: ZeroOp, OneOp or ByteConst (QEMU's aml_int for small values). */
function amlByteInt(v: number): number[] {
  toUint(v, 8, 'an AML byte integer');
  return v === 0 ? [ZERO_OP] : v === 1 ? [ONE_OP] : [BYTE_PREFIX, v];
}

/** A PkgLength (20.2.4) for `n` bytes that follow it, the PkgLength's own bytes counted. */
function pkgLength(n: number): number[] {
  if (n + 1 < 0x40) return [n + 1];
  if (n + 2 < 0x1000) return [0x40 | ((n + 2) & 0xf), (n + 2) >> 4];
  throw new RangeError(`AML package of ${n} bytes is larger than these encoders support`);
}

/** Name(NAME, Package(n){ ...byte integers }) */
function amlNamedPackage(name: string, values: readonly number[]): number[] {
  if (!/^[A-Z_][A-Z0-9_]{3}$/.test(name)) throw new RangeError(`an AML NameSeg has 4 characters [A-Z_][A-Z0-9_]{3}, got ${JSON.stringify(name)}`);
  const elements = [values.length, ...values.flatMap(amlByteInt)];
  return [NAME_OP, ...[...name].map((c) => c.charCodeAt(0)), PACKAGE_OP, ...pkgLength(elements.length), ...elements];
}

export interface DsdtDescription {
  /** The \_S5 package's SLP_TYPa (PIIX4 PM: 0; a hardware-reduced sleep register: 5). */
  s5SlpTyp: number;
  /** The table's revision (1: 32-bit AML integers; 2: 64-bit). */
  revision?: 1 | 2;
}

export function buildDsdt(d: DsdtDescription, ids?: AcpiTableIds): Uint8Array {
  const aml = amlNamedPackage('_S5_', [d.s5SlpTyp, 0, 0, 0]);
  return acpiTable('DSDT', d.revision ?? 1, Uint8Array.from(aml), ids);
}
