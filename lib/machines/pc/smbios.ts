// The SMBIOS tables QEMU 7.2's pc machine hands the firmware through fw_cfg
// (hw/smbios/smbios.c smbios_get_tables, called at machine done by
// hw/i386/fw_cfg.c fw_cfg_build_smbios): "etc/smbios/smbios-tables" holds
// the structures, "etc/smbios/smbios-anchor" a 2.1 (32-bit, "_SM_") entry
// point for SMBIOS 2.8 whose checksums and table address the firmware fills
// in. pc_init1's smbios_set_defaults gives the strings: manufacturer "QEMU",
// product the machine's description, version the machine's name.
//
// Without these files SeaBIOS builds its own tables (src/fw/smbios.c
// smbios_legacy_setup: a fw_cfg file lookup per field), which costs about a
// quarter of a second of emulated firmware code on a software-paging KVM;
// with them it only prepends its type 0 (src/fw/biostables.c
// smbios_romfile_setup), as it does under QEMU.
import type { FwCfgIo } from '../../devices/fw-cfg';
import { le } from '../../devices/fw-cfg';
import { E820_RAM, type E820Entry } from './e820';

/** smbios_set_defaults(manufacturer, product, version) of pc-i440fx-7.2. */
const MANUFACTURER = 'QEMU';
const PRODUCT = 'Standard PC (i440FX + PIIX, 1996)';
const VERSION = 'pc-i440fx-7.2';

/** Handles: T<type>_BASE + instance. */
const T16_HANDLE = 0x1000;
const T17_BASE = 0x1100;
const T19_BASE = 0x1300;
const T4_BASE = 0x400;
/** No error information structure (memory_error_information_handle). */
const NO_ERROR_INFO = 0xfffe;
/** No cache information structure. */
const NO_CACHE = 0xffff;

/** MAX_DIMM_SZ: RAM is described as DIMMs of at most 16 GiB. */
const MAX_DIMM_SIZE = 16n << 30n;
/** MAX_T16_STD_SZ (KiB) and MAX_T17_STD_SZ (MiB): beyond them the extended fields hold the size. */
const MAX_T16_STD_SIZE = 0x80000000n;
const MAX_T17_STD_SIZE = 0x7fffn;
const UINT32_MAX = 0xffffffffn;

/** smbios_cpu_max_speed / smbios_cpu_curr_speed defaults (MHz). */
const CPU_SPEED_MHZ = 2000;

export interface PcSmbiosOptions {
  /** ms->ram_size: all of -m, in bytes. */
  ramSize: bigint;
  /** The machine's e820 table (pcE820Entries()): its RAM entries become type 19 structures. */
  e820: readonly E820Entry[];
  /** ms->smp: sockets, cores per socket, threads per core. */
  smp: { sockets: number; cores: number; threads: number };
  /** CPUID leaf 1 EAX and EDX of the vCPU as the guest sees it (x86_cpu_realizefn's smbios_set_cpuid). */
  cpuidVersion: number;
  cpuidFeatures: number;
}

/** A structure's formatted area as [value, bytes] pairs, little-endian. */
type Field = readonly [value: number | bigint, size: 1 | 2 | 4 | 8];

/**
 * One structure: the header (type, length, handle), the formatted area, and
 * its strings (SMBIOS_BUILD_TABLE_POST: each NUL-terminated, then one more
 * NUL; two NULs when there are none).
 */
function structure(type: number, handle: number, fields: readonly Field[], strings: readonly string[] = []): Uint8Array {
  const formatted = [[type, 1], [0, 1], [handle, 2], ...fields] as const;
  const length = formatted.reduce((n, [, size]) => n + size, 0);
  const text = new TextEncoder().encode(strings.length === 0 ? '\0\0' : `${strings.join('\0')}\0\0`);
  const out = new Uint8Array(length + text.length);
  let at = 0;
  for (const [value, size] of formatted) {
    out.set(le(BigInt(value), size), at);
    at += size;
  }
  out[1] = length;
  out.set(text, length);
  return out;
}

/** Type 1, system information (smbios_build_type_1_table; no -uuid: all zero). */
function type1(): Uint8Array {
  return structure(1, 0x100, [
    [1, 1], [2, 1], [3, 1], [0, 1], // manufacturer, product name, version, no serial number
    [0n, 8], [0n, 8], // uuid
    [0x06, 1], // wake-up type: power switch
    [0, 1], [0, 1], // no SKU number, no family
  ], [MANUFACTURER, PRODUCT, VERSION]);
}

/** Type 3, system enclosure (smbios_build_type_3_table). */
function type3(): Uint8Array {
  return structure(3, 0x300, [
    [1, 1], [0x01, 1], [2, 1], [0, 1], [0, 1], // manufacturer, type "other", version, no serial, no asset tag
    [0x03, 1], [0x03, 1], [0x03, 1], [0x02, 1], // boot-up, power supply, thermal: safe; security: unknown
    [0, 4], [0, 1], [0, 1], // OEM-defined, height, power cords
    [0, 1], [0, 1], [0, 1], // no contained elements, their record length, no SKU number
  ], [MANUFACTURER, VERSION]);
}

/** Type 4, processor information, one per socket (smbios_build_type_4_table). */
function type4(socket: number, o: PcSmbiosOptions): Uint8Array {
  const clamp = (n: number) => Math.min(n, 0xff);
  const cores = clamp(o.smp.cores);
  return structure(4, T4_BASE + socket, [
    [1, 1], [0x03, 1], [0x01, 1], [2, 1], // socket designation, type CPU, family "other", manufacturer
    [o.cpuidVersion >>> 0, 4], [o.cpuidFeatures >>> 0, 4], // processor ID
    [3, 1], [0, 1], [0, 2], // version, voltage, external clock
    [CPU_SPEED_MHZ, 2], [CPU_SPEED_MHZ, 2],
    [0x41, 1], [0x01, 1], // socket populated and CPU enabled; upgrade "other"
    [NO_CACHE, 2], [NO_CACHE, 2], [NO_CACHE, 2],
    [0, 1], [0, 1], [0, 1], // no serial number, asset tag, part number
    [cores, 1], [cores, 1], [clamp(o.smp.cores * o.smp.threads), 1], // cores, enabled, threads per socket
    [0x02, 2], [0x01, 2], // characteristics "unknown", family 2 "other"
  ], [`CPU${socket.toString(16).padStart(2, ' ')}`, MANUFACTURER, VERSION]);
}

/** Type 16, the physical memory array (smbios_build_type_16_table). */
function type16(ramSize: bigint, dimms: number): Uint8Array {
  const kib = (ramSize + 1023n) / 1024n;
  const standard = kib < MAX_T16_STD_SIZE;
  return structure(16, T16_HANDLE, [
    [0x01, 1], [0x03, 1], [0x06, 1], // location "other", use: system memory, multi-bit ECC
    [standard ? kib : MAX_T16_STD_SIZE, 4], [NO_ERROR_INFO, 2], [dimms, 2],
    [standard ? 0n : ramSize, 8],
  ]);
}

/** Type 17, one memory device (smbios_build_type_17_table). */
function type17(instance: number, size: bigint): Uint8Array {
  const mib = (size + (1n << 20n) - 1n) >> 20n;
  const standard = mib < MAX_T17_STD_SIZE;
  return structure(17, T17_BASE + instance, [
    [T16_HANDLE, 2], [NO_ERROR_INFO, 2], [0xffff, 2], [0xffff, 2], // array, no error info, widths unknown
    [standard ? mib : MAX_T17_STD_SIZE, 2], [0x09, 1], [0, 1], // size, form factor DIMM, no device set
    [1, 1], [0, 1], [0x07, 1], [0x02, 2], [0, 2], // device locator, no bank locator, type RAM, detail "other", speed unknown
    [2, 1], [0, 1], [0, 1], [0, 1], [0, 1], // manufacturer, no serial, asset tag, part number; attributes
    [standard ? 0n : mib, 4], [0, 2], [0, 2], [0, 2], [0, 2], // extended size, clock speed, voltages unknown
  ], [`DIMM ${instance}`, MANUFACTURER]);
}

/** Type 19, a memory array mapped address: one e820 RAM range (smbios_build_type_19_table). */
function type19(instance: number, start: bigint, size: bigint): Uint8Array {
  const end = start + size - 1n;
  const startKib = start / 1024n;
  const endKib = end / 1024n;
  const standard = startKib < UINT32_MAX && endKib < UINT32_MAX;
  return structure(19, T19_BASE + instance, [
    [standard ? startKib : UINT32_MAX, 4], [standard ? endKib : UINT32_MAX, 4],
    [T16_HANDLE, 2], [1, 1],
    [standard ? 0n : start, 8], [standard ? 0n : end, 8],
  ]);
}

/** The structures and their 2.1 entry point, as QEMU 7.2 builds them for the pc machine. */
export function pcSmbiosTables(o: PcSmbiosOptions): { tables: Uint8Array; anchor: Uint8Array } {
  const { sockets, cores, threads } = o.smp;
  for (const [name, n] of [['sockets', sockets], ['cores', cores], ['threads', threads]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`smp.${name} must be a positive integer, got ${String(n)}`);
  }
  if (o.ramSize <= 0n) throw new RangeError('ramSize must be positive');
  const dimms = Number((o.ramSize + MAX_DIMM_SIZE - 1n) / MAX_DIMM_SIZE);
  const structures: Uint8Array[] = [type1(), type3()];
  for (let s = 0; s < sockets; s++) structures.push(type4(s, o));
  structures.push(type16(o.ramSize, dimms));
  for (let i = 0; i < dimms; i++) {
    structures.push(type17(i, i < dimms - 1 ? MAX_DIMM_SIZE : ((o.ramSize - 1n) % MAX_DIMM_SIZE) + 1n));
  }
  o.e820.filter((e) => e.type === E820_RAM).forEach((e, i) => structures.push(type19(i, e.address, e.length)));
  structures.push(structure(32, 0x2000, [[0n, 4], [0, 2], [0, 1]])); // type 32: reserved, "no errors detected"
  structures.push(structure(127, 0x7f00, [])); // end of table

  const tables = new Uint8Array(structures.reduce((n, s) => n + s.length, 0));
  let at = 0;
  for (const s of structures) {
    tables.set(s, at);
    at += s.length;
  }
  const maxStructure = Math.max(...structures.map((s) => s.length));
  // struct smbios_21_entry_point; checksums and the table address are the firmware's to fill in.
  const anchor = Uint8Array.from([
    ...new TextEncoder().encode('_SM_'), 0, 0x1f, 2, 8, ...le(BigInt(maxStructure), 2), 0, 0, 0, 0, 0, 0,
    ...new TextEncoder().encode('_DMI_'), 0, ...le(BigInt(tables.length), 2), ...le(0n, 4),
    ...le(BigInt(structures.length), 2), 0x28,
  ]);
  return { tables, anchor };
}

/** Adds QEMU's two SMBIOS files to the pc machine's fw_cfg (fw_cfg_build_smbios). */
export function addPcSmbiosFiles(fwcfg: FwCfgIo, options: PcSmbiosOptions): void {
  const { tables, anchor } = pcSmbiosTables(options);
  fwcfg.addFile('etc/smbios/smbios-tables', tables);
  fwcfg.addFile('etc/smbios/smbios-anchor', anchor);
}
