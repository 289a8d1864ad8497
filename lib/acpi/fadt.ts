// The FADT ("FACP", ACPI 6.4, 5.2.9) and the FACS (5.2.10), built the way
// QEMU's build_fadt (hw/acpi/aml-build.c) lays them out: revision 1 is
// ACPI 1.0's 116 bytes (what QEMU's pc machine gives), revision 3 adds the
// reset register and the 64-bit X_ fields (244 bytes), revision 5 the sleep
// control/status registers of hardware-reduced ACPI (268 bytes: QEMU's
// microvm). The X_ blocks repeat the 32-bit port blocks as System I/O
// Generic Address Structures, as QEMU fills them.
import { acpiTable, type AcpiTableIds, u32 } from './table-header';

/** FADT flags (ACPI 6.4, table 5.10) that QEMU's boards set. */
export const FADT_F = {
  WBINVD: 1 << 0,
  PROC_C1: 1 << 2,
  SLP_BUTTON: 1 << 5,
  RTC_S4: 1 << 7,
  RESET_REG_SUP: 1 << 10,
  USE_PLATFORM_CLOCK: 1 << 15,
  HW_REDUCED_ACPI: 1 << 20,
} as const;

/** IA-PC boot architecture flags (table 5.11). */
export const IAPC_BOOT_ARCH = { LEGACY_DEVICES: 1 << 0, I8042: 1 << 1, VGA_NOT_PRESENT: 1 << 2, MSI_NOT_SUPPORTED: 1 << 3 } as const;

/** A Generic Address Structure (5.2.3.2). */
export interface GenericAddress {
  /** 0 system memory, 1 system I/O. */
  spaceId: 0 | 1;
  bitWidth: number;
  bitOffset?: number;
  /** 0 undefined (legacy), 1 byte, 2 word, 3 dword, 4 qword. */
  accessSize?: number;
  address: bigint;
}

export const GAS_SIZE = 12;
export const FADT_SIZE = { 1: 116, 3: 244, 5: 268 } as const;
export const FACS_SIZE = 64;

/** What the FADT says (the port blocks are I/O port numbers; 0: none). */
export interface FadtDescription {
  revision: 1 | 3 | 5;
  /** The FACS's address (0: none, as in hardware-reduced ACPI). */
  facs: bigint | number;
  dsdt: bigint | number;
  /** FADT Minor Version (revision 5; QEMU's minor_ver). */
  minorVersion?: number;
  sciInt?: number;
  smiCmd?: number;
  acpiEnable?: number;
  acpiDisable?: number;
  pm1aEvt?: number;
  pm1aCnt?: number;
  pmTmr?: number;
  gpe0?: number;
  /** Block lengths in bytes (QEMU's pc: 4, 2, 4, 4). */
  pm1EvtLen?: number;
  pm1CntLen?: number;
  pmTmrLen?: number;
  gpe0Len?: number;
  /** P_LVL2_LAT / P_LVL3_LAT (QEMU: 0xfff, 0xfff: C2/C3 not supported). */
  plvl2Lat?: number;
  plvl3Lat?: number;
  /** The RTC CMOS index of the century (QEMU's pc: 0x32). */
  century?: number;
  iapcBootArch?: number;
  flags: number;
  /** Revision 3+: the reset register and the value to write. */
  resetReg?: GenericAddress;
  resetValue?: number;
  /** Revision 5: the hardware-reduced sleep registers. */
  sleepControl?: GenericAddress;
  sleepStatus?: GenericAddress;
}

function putGas(dv: DataView, at: number, g: GenericAddress | undefined): void {
  if (g === undefined) return;
  dv.setUint8(at, g.spaceId);
  dv.setUint8(at + 1, g.bitWidth);
  dv.setUint8(at + 2, g.bitOffset ?? 0);
  dv.setUint8(at + 3, g.accessSize ?? 0);
  dv.setBigUint64(at + 4, BigInt.asUintN(64, g.address), true);
}

/** A port block as an X_ field: System I/O, `len` bytes wide (none when the block is absent). */
function portGas(port: number | undefined, len: number | undefined): GenericAddress | undefined {
  if (!port) return undefined;
  return { spaceId: 1, bitWidth: 8 * (len ?? 0), address: BigInt(port) };
}

/** The FADT's bytes ("FACP"). Offsets below are the table's, header included. */
export function buildFadt(d: FadtDescription, ids?: AcpiTableIds): Uint8Array {
  if (!(d.revision in FADT_SIZE)) throw new RangeError(`FADT revision must be 1, 3 or 5, got ${String(d.revision)}`);
  const size = FADT_SIZE[d.revision];
  const table = new Uint8Array(size);
  const dv = new DataView(table.buffer);
  const facs = u32(d.facs, 'facs');
  const dsdt = u32(d.dsdt, 'dsdt');
  dv.setUint32(36, facs, true);
  dv.setUint32(40, dsdt, true);
  // 44: INT_MODEL in ACPI 1.0 (QEMU writes 1 for revision 1, "dual PIC" compatibility), 45: PM profile 0.
  table[44] = d.revision === 1 ? 1 : 0;
  dv.setUint16(46, d.sciInt ?? 0, true);
  dv.setUint32(48, d.smiCmd ?? 0, true);
  table[52] = d.acpiEnable ?? 0;
  table[53] = d.acpiDisable ?? 0;
  dv.setUint32(56, d.pm1aEvt ?? 0, true);
  dv.setUint32(64, d.pm1aCnt ?? 0, true);
  dv.setUint32(76, d.pmTmr ?? 0, true);
  dv.setUint32(80, d.gpe0 ?? 0, true);
  table[88] = d.pm1EvtLen ?? 0;
  table[89] = d.pm1CntLen ?? 0;
  table[91] = d.pmTmrLen ?? 0;
  table[92] = d.gpe0Len ?? 0;
  dv.setUint16(96, d.plvl2Lat ?? 0, true);
  dv.setUint16(98, d.plvl3Lat ?? 0, true);
  table[108] = d.century ?? 0;
  // IAPC_BOOT_ARCH is reserved in ACPI 1.0 (QEMU leaves it 0 there).
  if (d.revision > 1) dv.setUint16(109, d.iapcBootArch ?? 0, true);
  dv.setUint32(112, d.flags >>> 0, true);
  if (d.revision >= 3) {
    putGas(dv, 116, d.resetReg);
    table[128] = d.resetValue ?? 0;
    if (d.revision >= 5) table[131] = d.minorVersion ?? 0;
    dv.setBigUint64(132, BigInt(facs), true); // X_FIRMWARE_CTRL (QEMU fills both)
    dv.setBigUint64(140, BigInt(dsdt), true); // X_DSDT
    putGas(dv, 148, portGas(d.pm1aEvt, d.pm1EvtLen));
    putGas(dv, 172, portGas(d.pm1aCnt, d.pm1CntLen));
    putGas(dv, 208, portGas(d.pmTmr, d.pmTmrLen));
    putGas(dv, 220, portGas(d.gpe0, d.gpe0Len));
  }
  if (d.revision >= 5) {
    putGas(dv, 244, d.sleepControl);
    putGas(dv, 256, d.sleepStatus);
  }
  return acpiTable('FACP', d.revision, table.subarray(36), ids);
}

/** The FACS (64 bytes, 64-byte aligned where it is placed; no header checksum): QEMU's build_facs. */
export function buildFacs(): Uint8Array {
  const out = new Uint8Array(FACS_SIZE);
  out.set([0x46, 0x41, 0x43, 0x53]); // "FACS"
  new DataView(out.buffer).setUint32(4, FACS_SIZE, true);
  return out;
}
