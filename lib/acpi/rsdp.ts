// The Root System Description Pointer (ACPI 6.4, 5.2.5.3; QEMU's build_rsdp
// in hw/acpi/aml-build.c): "RSD PTR " with the RSDT's 32-bit address, and
// from revision 2 the XSDT's 64-bit address and an extended checksum over
// all 36 bytes. Firmware puts it on a 16-byte boundary in 0xe0000-0xfffff,
// where an OS without a boot protocol that passes it scans for it.
import { fixChecksum, putAscii, u32 } from './table-header';

export const RSDP_V1_SIZE = 20;
export const RSDP_V2_SIZE = 36;
/** Where an OS scans for the RSDP (ACPI 6.4, 5.2.5.1: the BIOS read-only area). */
export const RSDP_SCAN_START = 0xe0000n;
export const RSDP_SCAN_END = 0x100000n;

export interface RsdpDescription {
  /** 0: ACPI 1.0 (20 bytes, RSDT only); 2: ACPI 2.0+ (36 bytes, with the XSDT). */
  revision: 0 | 2;
  /** The RSDT's address (0: none, allowed with revision 2). */
  rsdt: bigint | number;
  /** The XSDT's address (revision 2). */
  xsdt?: bigint;
  /** 6 characters (default 'BOCHS '). */
  oemId?: string;
}

export function buildRsdp(d: RsdpDescription): Uint8Array {
  if (d.revision !== 0 && d.revision !== 2) throw new RangeError(`RSDP revision must be 0 (ACPI 1.0) or 2 (ACPI 2.0+), got ${String(d.revision)}`);
  const out = new Uint8Array(d.revision === 2 ? RSDP_V2_SIZE : RSDP_V1_SIZE);
  const dv = new DataView(out.buffer);
  putAscii(out, 0, 'RSD PTR ', 8, 'the RSDP signature');
  putAscii(out, 9, d.oemId ?? 'BOCHS ', 6, 'oemId');
  out[15] = d.revision;
  dv.setUint32(16, u32(d.rsdt, 'rsdt'), true);
  if (d.revision === 2) {
    dv.setUint32(20, RSDP_V2_SIZE, true);
    dv.setBigUint64(24, BigInt.asUintN(64, d.xsdt ?? 0n), true);
  }
  // The first checksum covers the ACPI 1.0 part, the extended one (set after it) all 36 bytes.
  fixChecksum(out, 8, 0, RSDP_V1_SIZE);
  if (d.revision === 2) fixChecksum(out, 32);
  return out;
}
