// The parts every ACPI table shares (ACPI 6.4, 5.2.6): the 36-byte System
// Description Table Header and the byte checksum that makes a table's bytes
// sum to zero. The identification strings default to QEMU's
// (hw/acpi/aml-build.c acpi_table_begin, ACPI_BUILD_APPNAME6/8): "BOCHS ",
// "BXPC" plus the signature as SeaBIOS and QEMU's older builders wrote it,
// creator "BXPC" revision 1.
import { hex } from '../util/hex';
import { toU64 } from '../util/integers';

/** sizeof(struct AcpiTableHeader). */
export const ACPI_TABLE_HEADER_SIZE = 36;
/** Offset of the checksum byte in a table header. */
export const ACPI_CHECKSUM_OFFSET = 9;

/** The identification a table header carries (OEM and creator). */
export interface AcpiTableIds {
  /** OEM ID: 6 characters (default 'BOCHS '). */
  oemId?: string;
  /** OEM table ID: 8 characters (default 'BXPC' + the table's signature). */
  oemTableId?: string;
  /** OEM revision (default 1). */
  oemRevision?: number;
  /** Creator ID (QEMU's asl_compiler_id): 4 characters (default 'BXPC'). */
  creatorId?: string;
  /** Creator revision (default 1). */
  creatorRevision?: number;
}

/** The 8-bit sum of `bytes` (a valid table sums to 0). */
export function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

/** Sets `bytes[at]` so that bytes[start, end) sum to 0 (the byte at `at` is taken as 0 first). */
export function fixChecksum(bytes: Uint8Array, at: number, start = 0, end = bytes.length): void {
  bytes[at] = 0;
  bytes[at] = (0x100 - byteSum(bytes.subarray(start, end))) & 0xff;
}

/** Writes `text` as exactly `length` ASCII bytes at `at` (a RangeError when it is not `length` printable characters). */
export function putAscii(bytes: Uint8Array, at: number, text: string, length: number, what: string): void {
  if (typeof text !== 'string' || text.length !== length || !/^[\x20-\x7e]*$/.test(text)) {
    throw new RangeError(`${what} must be ${length} printable ASCII characters (pad with spaces), got ${JSON.stringify(text)}`);
  }
  for (let i = 0; i < length; i++) bytes[at + i] = text.charCodeAt(i);
}

/** A 32-bit address field (a bigint or a safe integer): a RangeError naming `what` when it does not fit. */
export function u32(v: bigint | number, what: string): number {
  const n = toU64(v, what);
  if (n > 0xffffffffn) throw new RangeError(`${what} ${hex(n)} does not fit in 32 bits`);
  return Number(n);
}

/**
 * A whole table: the header (signature, length, revision, ids, checksum)
 * followed by `body`. `body` is the table after its header.
 */
export function acpiTable(signature: string, revision: number, body: Uint8Array, ids: AcpiTableIds = {}): Uint8Array {
  const out = new Uint8Array(ACPI_TABLE_HEADER_SIZE + body.length);
  const dv = new DataView(out.buffer);
  putAscii(out, 0, signature, 4, 'an ACPI table signature');
  dv.setUint32(4, out.length, true);
  out[8] = revision;
  putAscii(out, 10, ids.oemId ?? 'BOCHS ', 6, 'oemId');
  putAscii(out, 16, ids.oemTableId ?? `BXPC${signature}`, 8, 'oemTableId');
  dv.setUint32(24, u32(ids.oemRevision ?? 1, 'oemRevision'), true);
  putAscii(out, 28, ids.creatorId ?? 'BXPC', 4, 'creatorId');
  dv.setUint32(32, u32(ids.creatorRevision ?? 1, 'creatorRevision'), true);
  out.set(body, ACPI_TABLE_HEADER_SIZE);
  fixChecksum(out, ACPI_CHECKSUM_OFFSET);
  return out;
}
