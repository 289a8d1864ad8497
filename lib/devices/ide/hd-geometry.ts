// A hard disk's CHS geometry as QEMU guesses it when the command line gives
// none (hw/block/hd-geometry.c, hd_geometry_guess): a valid partition table in
// the MBR whose end head/sector describe the BIOS's logical geometry wins
// (guess_disk_lchs); otherwise, or when that geometry has more than 16 heads
// (a BIOS translation was active), the standard physical geometry 16 heads
// × 63 sectors with as many cylinders as fit, in [2, 16383] (guess_chs_for_size).
import type { PcCmosDisk } from '../../machines/pc/cmos-init';

const MAX_CYLINDERS = 16383;

/** The geometry of a disk of `sectorCount` sectors whose first sector is `mbr` (512 bytes). */
export function hdGeometryGuess(mbr: Uint8Array, sectorCount: number): PcCmosDisk {
  const lchs = guessDiskLchs(mbr, sectorCount);
  if (lchs !== null && lchs.heads <= 16) return { ...lchs, translation: 'none' };
  const physical = guessChsForSize(sectorCount);
  // an MBR geometry with > 16 heads means the BIOS translated: LARGE while it fits, else LBA
  if (lchs !== null) return { ...physical, translation: physical.cylinders * physical.heads <= 131072 ? 'large' : 'lba' };
  // hd_bios_chs_auto_trans: no translation while plain CHS reaches the whole disk
  return { ...physical, translation: physical.cylinders <= 1024 ? 'none' : 'lba' };
}

function guessChsForSize(sectorCount: number): Omit<PcCmosDisk, 'translation'> {
  const cylinders = Math.min(MAX_CYLINDERS, Math.max(2, Math.floor(sectorCount / (16 * 63))));
  return { cylinders, heads: 16, sectors: 63 };
}

/** guess_disk_lchs: the first partition entry with sectors, an end head and an end sector. */
function guessDiskLchs(mbr: Uint8Array, sectorCount: number): Omit<PcCmosDisk, 'translation'> | null {
  if (mbr.length < 512 || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return null;
  const view = new DataView(mbr.buffer, mbr.byteOffset, mbr.byteLength);
  for (let i = 0; i < 4; i++) {
    const entry = 0x1be + i * 16;
    const endHead = mbr[entry + 5];
    const endSector = mbr[entry + 6] & 63;
    const nrSects = view.getUint32(entry + 12, true);
    if (nrSects === 0 || endHead === 0 || endSector === 0) continue;
    const heads = endHead + 1;
    const cylinders = Math.floor(sectorCount / (heads * endSector));
    if (cylinders < 1 || cylinders > MAX_CYLINDERS) continue;
    return { cylinders, heads, sectors: endSector };
  }
  return null;
}
