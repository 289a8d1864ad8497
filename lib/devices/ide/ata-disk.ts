// An ATA hard disk on an IDE channel (QEMU's ide-hd, hw/ide/core.c): its
// medium (a DiskImage), its geometry (hw/block/hd-geometry.c), its IDENTIFY
// DEVICE data (ide_identify) and the settings commands change (multiple mode,
// INITIALIZE DEVICE PARAMETERS, SET FEATURES). The task-file registers and
// the commands are the channel's (ide-bus.ts, ide-commands.ts).
import { checkOptions, type OptionKeys } from '../../options';
import { type DeviceStateValue, stateField } from '../../snapshot/device-state';
import type { PcCmosDisk } from '../../machines/pc/cmos-init';
import type { DiskImage } from './disk-image';
import { hdGeometryGuess } from './hd-geometry';

/** MAX_MULT_SECTORS (hw/ide/internal.h): the largest READ/WRITE MULTIPLE block. */
export const MAX_MULT_SECTORS = 16;
/** qemu_hw_version() of QEMU 7.2: the firmware revision of its drives. */
const FIRMWARE_VERSION = '2.5+';
const MODEL = 'QEMU HARDDISK';

/** QEMU's serial of the n-th IDE drive it creates (1-based): "QM%05d". */
export function qemuDriveSerial(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 99999) throw new RangeError(`drive number must be an integer in [1, 99999], got ${String(n)}`);
  return `QM${String(n).padStart(5, '0')}`;
}

export interface AtaDiskOptions {
  /** The serial number (≤ 20 characters; default QEMU's first drive's, "QM00001"). */
  serial?: string;
}

const ATA_DISK_OPTIONS = { serial: true } as const satisfies OptionKeys<AtaDiskOptions>;

export class AtaDisk {
  /** QEMU's type name. */
  readonly name = 'ide-hd';
  readonly image: DiskImage;
  readonly serial: string;
  /** The geometry the drive reports (and the BIOS translation pc_cmos_init_late stores). */
  readonly geometry: PcCmosDisk;
  /** s->heads, s->sectors: the CHS translation in use (INITIALIZE DEVICE PARAMETERS changes it until reset) */
  heads: number;
  sectors: number;
  /** s->mult_sectors: the READ/WRITE MULTIPLE block size, 0 when multiple mode is off */
  multSectors = MAX_MULT_SECTORS;
  /** s->identify_data: built at the first IDENTIFY and kept (QEMU's identify_set), SET FEATURES edits it */
  private identifyData: Uint16Array | null = null;

  constructor(image: DiskImage, options?: AtaDiskOptions) {
    const opts = checkOptions(options, ATA_DISK_OPTIONS, 'new AtaDisk()');
    if (typeof image !== 'object' || image === null || typeof image.read !== 'function') throw new TypeError('AtaDisk: image must be a DiskImage');
    const serial = opts.serial ?? qemuDriveSerial(1);
    if (typeof serial !== 'string' || serial.length > 20 || !/^[\x20-\x7e]*$/.test(serial)) {
      throw new TypeError('AtaDisk: serial must be a printable ASCII string of at most 20 characters');
    }
    this.image = image;
    this.serial = serial;
    const mbr = image.sectorCount > 0 ? image.read(0, 1) : new Uint8Array(0);
    this.geometry = hdGeometryGuess(mbr, image.sectorCount);
    this.heads = this.geometry.heads;
    this.sectors = this.geometry.sectors;
  }

  /** Sectors of the medium (s->nb_sectors). */
  get sectorCount(): number {
    return this.image.sectorCount;
  }

  /** ide_reset's part for a disk: multiple mode and the translation back to their power-on values. */
  reset(): void {
    this.multSectors = MAX_MULT_SECTORS;
    this.heads = this.geometry.heads;
    this.sectors = this.geometry.sectors;
  }

  /** IDENTIFY DEVICE's 256 words. */
  identify(): Uint16Array {
    this.identifyData ??= this.buildIdentify();
    return this.identifyData;
  }

  /** SET FEATURES 0x02/0x82: write cache enabled/disabled, as word 85 reports it. */
  setWriteCache(enabled: boolean): void {
    this.identify()[85] = (1 << 14) | (enabled ? 1 << 5 : 0) | 1;
  }

  /** SET FEATURES 0x03: the selected single-word DMA, multiword DMA or UDMA mode in words 62, 63 and 88. */
  setTransferMode(kind: 'pio' | 'sdma' | 'mdma' | 'udma', mode: number): void {
    const id = this.identify();
    const bit = 1 << (mode + 8);
    id[62] = 0x07 | (kind === 'sdma' ? bit : 0);
    id[63] = 0x07 | (kind === 'mdma' ? bit : 0);
    id[88] = 0x3f | (kind === 'udma' ? bit : 0);
  }

  /** What commands changed: multiple mode, the CHS translation, the IDENTIFY data once built. */
  saveState(): DeviceStateValue {
    return {
      multSectors: this.multSectors, heads: this.heads, sectors: this.sectors,
      identify: this.identifyData ? new Uint8Array(this.identifyData.buffer.slice(0)) : null,
    };
  }

  /** Throws on a state this disk cannot take (loadState assumes it passed). */
  checkState(state: DeviceStateValue, name: string): void {
    for (const k of ['multSectors', 'heads', 'sectors']) {
      const v = stateField(state, k, 'number', name);
      if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`${name} state: disk ${k} must be 0..255`);
    }
    const id = (state as Record<string, DeviceStateValue>).identify;
    if (id !== null && !(id instanceof Uint8Array && id.length === 512)) throw new TypeError(`${name} state: disk identify must be 512 bytes or null`);
  }

  loadState(state: DeviceStateValue): void {
    const s = state as Record<string, DeviceStateValue>;
    this.multSectors = s.multSectors as number;
    this.heads = s.heads as number;
    this.sectors = s.sectors as number;
    this.identifyData = s.identify instanceof Uint8Array ? new Uint16Array(s.identify.slice().buffer) : null;
  }

  /** ide_identify, word for word (QEMU 7.2 with its ide-hd defaults: write cache on, 512-byte blocks, discard granularity set). */
  private buildIdentify(): Uint16Array {
    const p = new Uint16Array(256);
    const n = this.sectorCount;
    const { cylinders } = this.geometry;
    p[0] = 0x0040; // fixed disk
    p[1] = cylinders;
    p[3] = this.heads;
    p[4] = 512 * this.sectors; // retired: bytes per track
    p[5] = 512; // retired: bytes per sector
    p[6] = this.sectors;
    putString(p, 10, this.serial, 20);
    p[20] = 3; // retired: buffer type
    p[21] = 512; // cache size in sectors
    p[22] = 4; // ECC bytes
    putString(p, 23, FIRMWARE_VERSION, 8);
    putString(p, 27, MODEL, 40);
    p[47] = 0x8000 | MAX_MULT_SECTORS;
    p[48] = 1; // dword I/O
    p[49] = (1 << 11) | (1 << 9) | (1 << 8); // IORDY, LBA, DMA
    p[51] = 0x200; // PIO transfer cycle
    p[52] = 0x200; // DMA transfer cycle
    p[53] = 1 | (1 << 1) | (1 << 2); // words 54-58, 64-70 and 88 are valid
    p[54] = cylinders;
    p[55] = this.heads;
    p[56] = this.sectors;
    const chsSectors = cylinders * this.heads * this.sectors;
    p[57] = chsSectors & 0xffff;
    p[58] = (chsSectors >>> 16) & 0xffff;
    if (this.multSectors) p[59] = 0x100 | this.multSectors;
    // LBA28 capacity: QEMU stores the low 32 bits of nb_sectors
    p[60] = n & 0xffff;
    p[61] = Math.floor(n / 0x10000) & 0xffff;
    p[62] = 0x07; // single-word DMA 0-2
    p[63] = 0x07; // multiword DMA 0-2
    p[64] = 0x03; // PIO 3-4
    p[65] = p[66] = p[67] = p[68] = 120; // cycle times, ns
    p[69] = 1 << 14; // deterministic data after TRIM (discard granularity set)
    p[80] = 0xf0; // ATA-4 to ATA-7
    p[81] = 0x16;
    p[82] = (1 << 14) | (1 << 5) | 1; // NOP, write cache, SMART supported
    p[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10); // FLUSH CACHE EXT, FLUSH CACHE, LBA48
    p[84] = 1 << 14;
    p[85] = (1 << 14) | (1 << 5) | 1; // write cache and SMART enabled (cache=writeback)
    p[86] = (1 << 13) | (1 << 12) | (1 << 10);
    p[87] = 1 << 14;
    p[88] = 0x3f | (1 << 13); // UDMA 0-5 supported, 5 selected
    p[93] = 1 | (1 << 14) | 0x2000; // hardware reset result
    // LBA48 capacity, 64 bits in 4 words
    for (let i = 0, v = n; i < 4; i++, v = Math.floor(v / 0x10000)) p[100 + i] = v % 0x10000;
    p[106] = 0x6000; // one logical sector per physical sector
    p[169] = 1; // DATA SET MANAGEMENT (TRIM) supported
    return p;
  }
}

/** padstr: ATA strings are space padded with the two bytes of each word swapped. */
function putString(words: Uint16Array, at: number, text: string, bytes: number): void {
  for (let i = 0; i < bytes; i += 2) {
    const hi = i < text.length ? text.charCodeAt(i) : 0x20;
    const lo = i + 1 < text.length ? text.charCodeAt(i + 1) : 0x20;
    words[at + i / 2] = (hi << 8) | lo;
  }
}
