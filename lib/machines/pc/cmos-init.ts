// The CMOS bytes QEMU 7.2's pc machine stores for the BIOS (hw/i386/pc.c
// pc_cmos_init at machine init, pc_cmos_init_late at the first reset;
// hw/i386/x86.c x86_rtc_set_cpus_count at machine done). SeaBIOS reads the
// boot order (0x38/0x3d), the CPU count (0x5f) and the floppy types (0x10);
// the memory sizes only when fw_cfg has no etc/e820 (src/fw/paravirt.c).
// QEMU does not store the 0x2e/0x2f checksum.
import type { Mc146818Rtc } from '../../devices/mc146818-rtc';
import { checkOptions, type OptionKeys } from '../../options';
import { toU64 } from '../../util/integers';
import type { PcRamSplitInput } from './ram-split';

const KIB = 1024n;
const MIB = 1024n * KIB;
/** REG_EQUIPMENT_BYTE */
const EQUIPMENT_BYTE = 0x14;

export interface PcCmosOptions {
  /** The RAM split (pcRamSplit()). */
  ramSplit: PcRamSplitInput;
  /** -boot order=, up to three of a/b (floppy), c (disk), d (CD-ROM), n (network); default "cad". */
  bootOrder?: string;
  /** false with -no-fd-bootchk (0x38 bit 0 set: SeaBIOS skips the floppy signature check). */
  fdBootchk?: boolean;
}

const PC_CMOS_OPTIONS = { ramSplit: true, bootOrder: true, fdBootchk: true } as const satisfies OptionKeys<PcCmosOptions>;

/** pc_cmos_init: memory sizes, boot order, equipment byte. */
export function pcCmosInit(rtc: Mc146818Rtc, options: PcCmosOptions): void {
  const opts = checkOptions(options, PC_CMOS_OPTIONS, 'pcCmosInit()');
  const below = toU64(opts.ramSplit.below4g, 'ramSplit.below4g');
  const above = toU64(opts.ramSplit.above4g, 'ramSplit.above4g');
  const set16 = (index: number, v: number) => {
    rtc.setCmos(index, v & 0xff);
    rtc.setCmos(index + 1, (v >> 8) & 0xff);
  };
  // base memory (first MiB): KiB, at most 640
  set16(0x15, Number(below / KIB < 640n ? below / KIB : 640n));
  // extended memory above 1 MiB in KiB, at most 0xffff, twice
  const extended = Number(min(below > MIB ? (below - MIB) / KIB : 0n, 0xffffn));
  set16(0x17, extended);
  set16(0x30, extended);
  // memory between 16 MiB and 4 GiB in 64 KiB units, at most 0xffff
  set16(0x34, Number(min(below > 16n * MIB ? (below - 16n * MIB) / (64n * KIB) : 0n, 0xffffn)));
  // memory above 4 GiB in 64 KiB units, 24 bits (QEMU truncates larger values)
  const high = Number((above / (64n * KIB)) & 0xffffffn);
  rtc.setCmos(0x5b, high & 0xff);
  rtc.setCmos(0x5c, (high >> 8) & 0xff);
  rtc.setCmos(0x5d, (high >> 16) & 0xff);
  pcSetBootDevices(rtc, opts.bootOrder ?? 'cad', opts.fdBootchk ?? true);
  rtc.setCmos(EQUIPMENT_BYTE, 0x02 | 0x04); // FPU, PS/2 mouse
}

/** boot_device2nibble */
const BOOT_NIBBLE: Record<string, number> = { a: 1, b: 1, c: 2, d: 3, n: 4 };

/** set_boot_dev: 0x3d = second << 4 | first, 0x38 = third << 4 | (fdBootchk ? 0 : 1). */
export function pcSetBootDevices(rtc: Mc146818Rtc, order: string, fdBootchk: boolean): void {
  if (typeof order !== 'string') throw new TypeError('boot order must be a string such as "cad"');
  if (order.length > 3) throw new RangeError('Too many boot devices for PC');
  const nibbles = [0, 0, 0];
  for (let i = 0; i < order.length; i++) {
    const n = BOOT_NIBBLE[order[i]];
    if (n === undefined) throw new RangeError(`Invalid boot device for PC: '${order[i]}'`);
    nibbles[i] = n;
  }
  rtc.setCmos(0x3d, (nibbles[1] << 4) | nibbles[0]);
  rtc.setCmos(0x38, (nibbles[2] << 4) | (fdBootchk ? 0 : 1));
}

/** A hard disk's physical geometry and BIOS translation, as the IDE model reports it. */
export interface PcCmosDisk {
  cylinders: number;
  heads: number;
  sectors: number;
  /** BIOS_ATA_TRANSLATION_NONE/LBA/LARGE/RECHS */
  translation: 'none' | 'lba' | 'large' | 'rechs';
}

/** FloppyDriveType of a drive, or null for none. */
export type PcCmosFloppy = '144' | '288' | '120' | null;

export interface PcCmosDrives {
  /** ide0-0, ide0-1, ide1-0, ide1-1: hard disks only (a CD-ROM or nothing is null). */
  ide?: readonly (PcCmosDisk | null)[];
  /** fdc0 drives A and B. */
  floppies?: readonly PcCmosFloppy[];
}

const TRANSLATION = { none: 0, lba: 1, large: 2, rechs: 3 } as const;
/** cmos_get_fd_drive_type */
const FLOPPY_TYPE = { 144: 4, 288: 5, 120: 2 } as const;

/** pc_cmos_init_late (first reset only) and pc_cmos_init_floppy: disks 0x12/0x19–0x2c/0x39, floppies 0x10/0x14. */
export function pcCmosInitLate(rtc: Mc146818Rtc, drives: PcCmosDrives = {}): void {
  const ide = drives.ide ?? [];
  const floppies = drives.floppies ?? [];
  if (ide.length > 4 || floppies.length > 2) throw new RangeError('pcCmosInitLate: at most 4 IDE drives and 2 floppy drives');
  ide.forEach((d) => d && checkDisk(d));
  let present = 0;
  if (ide[0]) {
    cmosInitHd(rtc, 0x19, 0x1b, ide[0]);
    present |= 0xf0;
  }
  if (ide[1]) {
    cmosInitHd(rtc, 0x1a, 0x24, ide[1]);
    present |= 0x0f;
  }
  rtc.setCmos(0x12, present);
  let trans = 0;
  ide.forEach((d, i) => {
    if (d) trans |= TRANSLATION[d.translation] << (i * 2);
  });
  rtc.setCmos(0x39, trans);

  const types = [0, 1].map((i) => {
    const f = floppies[i] ?? null;
    if (f !== null && !(f in FLOPPY_TYPE)) throw new RangeError(`floppy drive type must be '144', '288', '120' or null, got ${String(f)}`);
    return f === null ? 0 : FLOPPY_TYPE[f];
  });
  rtc.setCmos(0x10, (types[0] << 4) | types[1]);
  const count = types.filter((t) => t !== 0).length;
  const equipment = rtc.getCmos(EQUIPMENT_BYTE) | (count === 1 ? 0x01 : count === 2 ? 0x41 : 0);
  rtc.setCmos(EQUIPMENT_BYTE, equipment);
}

/** x86_rtc_set_cpus_count: CPUs − 1, or 0 when the count does not fit a byte (the BIOS must use fw_cfg). */
export function x86RtcSetCpusCount(rtc: Mc146818Rtc, cpus: number): void {
  if (!Number.isInteger(cpus) || cpus < 1) throw new RangeError(`CPU count must be a positive integer, got ${String(cpus)}`);
  rtc.setCmos(0x5f, cpus > 0xff ? 0 : cpus - 1);
}

/** cmos_init_hd: type 47 (user-defined), then the geometry block. */
function cmosInitHd(rtc: Mc146818Rtc, typeOffset: number, info: number, d: PcCmosDisk): void {
  rtc.setCmos(typeOffset, 47);
  rtc.setCmos(info, d.cylinders & 0xff);
  rtc.setCmos(info + 1, (d.cylinders >> 8) & 0xff);
  rtc.setCmos(info + 2, d.heads);
  rtc.setCmos(info + 3, 0xff);
  rtc.setCmos(info + 4, 0xff);
  rtc.setCmos(info + 5, 0xc0 | (d.heads > 8 ? 0x08 : 0));
  rtc.setCmos(info + 6, d.cylinders & 0xff);
  rtc.setCmos(info + 7, (d.cylinders >> 8) & 0xff);
  rtc.setCmos(info + 8, d.sectors);
}

/** ide_get_geometry's range: 1..16383 cylinders, 1..16 heads, 1..63 sectors. */
function checkDisk(d: PcCmosDisk): void {
  const ok = (v: unknown, max: number) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;
  if (!ok(d.cylinders, 16383) || !ok(d.heads, 16) || !ok(d.sectors, 63) || !(d.translation in TRANSLATION)) {
    throw new RangeError(`IDE geometry must be 1..16383 cylinders, 1..16 heads, 1..63 sectors with a known translation, got ${JSON.stringify(d)}`);
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
