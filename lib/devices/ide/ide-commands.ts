// The ATA commands of QEMU's hard disk (hw/ide/core.c, ide_cmd_table for
// IDE_HD) on one device position, and the sector transfers they start. The
// medium is synchronous (DiskImage), so BSY is never visible to the guest:
// each DRQ block is ready when the command or the previous block completes.
// READ/WRITE DMA (EXT) hand the transfer to the channel's DMA engine
// (bmdma.ts); without one they abort. Not here: SMART and DATA SET
// MANAGEMENT (abort), ATAPI.
import { MAX_MULT_SECTORS } from './ata-disk';
import { DiskImageError, SECTOR_SIZE } from './disk-image';
import { ATA_DEV_HS, BUSY_STAT, DRQ_STAT, ERR_STAT, type IdeDmaEngine, type IdeState, READY_STAT, SEEK_STAT } from './ide-state';

/** What a command handler returns: true when the command completed now (status final, IRQ raised). */
type Handler = (s: IdeState, cmd: number) => boolean;

interface CommandEntry {
  readonly handler: Handler;
  /** SET_DSC: a successful completion also sets DSC (SEEK_STAT) */
  readonly setDsc?: boolean;
}

/** Whether the channel should raise its IRQ (ide_bus_set_irq); the channel applies nIEN. */
export type RaiseIrq = () => void;

/** ide_sect_range_ok */
export function sectorRangeOk(s: IdeState, sector: number, count: number): boolean {
  const total = s.disk?.sectorCount ?? 0;
  return sector >= 0 && sector <= total && count <= total - sector;
}

/** ide_rw_error: the command aborts with an interrupt. */
function rwError(s: IdeState, raise: RaiseIrq): void {
  s.abort();
  raise();
}

/** ide_sector_read: the next DRQ block of a read, or the end of the command. */
export function sectorRead(s: IdeState, raise: RaiseIrq): void {
  s.status = READY_STAT | SEEK_STAT;
  s.error = 0; // not needed by the spec, but needed by Windows (QEMU's comment)
  const sector = s.getSector();
  const n = Math.min(s.nsector, s.reqNbSectors);
  if (n === 0) {
    s.transferHalt();
    return;
  }
  if (!sectorRangeOk(s, sector, n) || s.disk === null) {
    rwError(s, raise);
    return;
  }
  try {
    s.ioBuffer.set(s.disk.image.read(sector, n));
  } catch (e) {
    if (!isMediumError(e)) throw e;
    rwError(s, raise); // an I/O error or a closed image: the guest sees ABRT (werror/rerror=report)
    return;
  }
  s.setSector(sector + n);
  s.nsector -= n;
  s.transferStart(n * SECTOR_SIZE, 'read');
  raise();
}

/** ide_sector_write: the guest filled a DRQ block; write it, then ask for the next one or finish. */
export function sectorWrite(s: IdeState, raise: RaiseIrq): void {
  s.status = READY_STAT | SEEK_STAT | BUSY_STAT;
  const sector = s.getSector();
  const n = Math.min(s.nsector, s.reqNbSectors);
  if (!sectorRangeOk(s, sector, n) || s.disk === null) {
    rwError(s, raise);
    return;
  }
  try {
    s.disk.image.write(sector, s.ioBuffer.subarray(0, n * SECTOR_SIZE));
  } catch (e) {
    // a refused or failed write (read-only image, I/O error) is the guest's ABRT, as werror=report does
    if (!isMediumError(e)) throw e;
    rwError(s, raise);
    return;
  }
  s.status &= ~BUSY_STAT;
  s.nsector -= n;
  s.setSector(sector + n);
  if (s.nsector === 0) s.transferHalt();
  else s.transferStart(Math.min(s.nsector, s.reqNbSectors) * SECTOR_SIZE, 'write');
  raise();
}

/** An error of the medium (DiskImageError, or an fs error with an errno code), as opposed to a bug. */
export function isMediumError(e: unknown): boolean {
  return e instanceof DiskImageError || (e instanceof Error && typeof (e as { code?: unknown }).code === 'string');
}

function readPio(s: IdeState, cmd: number, raise: RaiseIrq, multiple: boolean): boolean {
  if (s.disk === null || (multiple && !s.disk.multSectors)) {
    s.abort();
    return true;
  }
  s.takeSectorCount(cmd === 0x24 || cmd === 0x29);
  s.reqNbSectors = multiple ? s.disk.multSectors : 1;
  sectorRead(s, raise);
  return false;
}

function writePio(s: IdeState, cmd: number, multiple: boolean): boolean {
  if (s.disk === null || (multiple && !s.disk.multSectors)) {
    s.abort();
    return true;
  }
  s.takeSectorCount(cmd === 0x34 || cmd === 0x39);
  s.reqNbSectors = multiple ? s.disk.multSectors : 1;
  s.status = SEEK_STAT | READY_STAT;
  // no interrupt: the guest writes the first block as soon as DRQ is set
  s.transferStart(Math.min(s.nsector, s.reqNbSectors) * SECTOR_SIZE, 'write');
  return false;
}

/** cmd_read_dma / cmd_write_dma: DRQ set, the engine moves the sectors (ide_sector_start_dma). */
function startDma(s: IdeState, cmd: number, dma: IdeDmaEngine | null, write: boolean): boolean {
  if (s.disk === null || dma === null) {
    s.abort();
    return true;
  }
  s.takeSectorCount(cmd === 0x25 || cmd === 0x35);
  s.status = READY_STAT | SEEK_STAT | DRQ_STAT;
  dma.start(s, write);
  return false;
}

const nop: Handler = () => true;

function identify(s: IdeState, raise: RaiseIrq): boolean {
  if (s.disk === null) {
    s.abort();
    return true;
  }
  const words = s.disk.identify();
  for (let i = 0; i < 256; i++) {
    s.ioBuffer[2 * i] = words[i] & 0xff;
    s.ioBuffer[2 * i + 1] = words[i] >> 8;
  }
  s.status = READY_STAT | SEEK_STAT;
  s.transferStart(SECTOR_SIZE, 'stop');
  raise();
  return false;
}

/** cmd_set_features */
function setFeatures(s: IdeState): boolean {
  const disk = s.disk;
  if (disk === null) {
    s.abort();
    return true;
  }
  switch (s.feature) {
    case 0x02:
    case 0x82:
      disk.setWriteCache(s.feature === 0x02);
      return s.feature === 0x02 || flushCache(s); // disabling the cache flushes it
    case 0xcc: case 0x66: case 0xaa: case 0x55: case 0x05: case 0x85:
    case 0x69: case 0x67: case 0x96: case 0x9a: case 0x42: case 0xc2:
      return true; // accepted, nothing to do
    case 0x03: {
      const mode = s.nsector & 0x07;
      const kind = ({ 0: 'pio', 1: 'pio', 2: 'sdma', 4: 'mdma', 8: 'udma' } as const)[(s.nsector & 0xff) >> 3];
      if (kind === undefined) break;
      disk.setTransferMode(kind, mode);
      return true;
    }
    default:
      break;
  }
  s.abort();
  return true;
}

/** cmd_set_multiple_mode: 0 turns multiple mode off, else a power of two up to MAX_MULT_SECTORS. */
function setMultipleMode(s: IdeState): boolean {
  const n = s.nsector & 0xff;
  if (s.disk === null || (n !== 0 && (n > MAX_MULT_SECTORS || (n & (n - 1)) !== 0))) s.abort();
  else s.disk.multSectors = n;
  return true;
}

/** cmd_specify (INITIALIZE DEVICE PARAMETERS): the CHS translation the guest uses from now on. */
function specify(s: IdeState, raise: RaiseIrq): boolean {
  if (s.disk === null) {
    s.abort();
    return true;
  }
  s.disk.heads = (s.select & ATA_DEV_HS) + 1;
  s.disk.sectors = s.nsector & 0xff;
  raise();
  return true;
}

/** cmd_exec_dev_diagnostic: the signature; error 0x01 = device 0 passed, device 1 passed or absent (not an error). */
export function execDeviceDiagnostic(s: IdeState, raise: RaiseIrq): boolean {
  s.setSignature();
  s.status = READY_STAT | SEEK_STAT;
  s.error = 0x01;
  raise();
  return false;
}

function readNativeMax(s: IdeState, cmd: number): boolean {
  if (s.disk === null || s.disk.sectorCount === 0) {
    s.abort();
    return true;
  }
  s.takeSectorCount(cmd === 0x27);
  s.setSector(s.disk.sectorCount - 1);
  return true;
}

function flushCache(s: IdeState): boolean {
  try {
    s.disk?.image.flush();
  } catch (e) {
    if (!isMediumError(e)) throw e;
    s.abort();
  }
  return true;
}

/** ide_cmd_table's IDE_HD entries (SMART and DSM are left out: they abort). */
function commandTable(raise: RaiseIrq, dma: IdeDmaEngine | null): Map<number, CommandEntry> {
  const t = new Map<number, CommandEntry>();
  const add = (codes: number[], handler: Handler, setDsc = false) => codes.forEach((c) => t.set(c, { handler, setDsc }));
  add([0x10], nop, true); // RECALIBRATE
  add([0x20, 0x21, 0x24], (s, c) => readPio(s, c, raise, false)); // READ SECTORS (EXT)
  add([0x29, 0xc4], (s, c) => readPio(s, c, raise, true)); // READ MULTIPLE (EXT)
  add([0x30, 0x31, 0x34, 0x3c], (s, c) => writePio(s, c, false)); // WRITE SECTORS (EXT), WRITE VERIFY
  add([0x39, 0xc5], (s, c) => writePio(s, c, true)); // WRITE MULTIPLE (EXT)
  add([0xc8, 0xc9, 0x25], (s, c) => startDma(s, c, dma, false)); // READ DMA (EXT)
  add([0xca, 0xcb, 0x35], (s, c) => startDma(s, c, dma, true)); // WRITE DMA (EXT)
  add([0x27, 0xf8], readNativeMax, true); // READ NATIVE MAX ADDRESS (EXT)
  add([0x40, 0x41, 0x42], (s, c) => { s.takeSectorCount(c === 0x42); return true; }, true); // READ VERIFY (EXT)
  add([0x70], nop, true); // SEEK
  add([0x90], (s) => execDeviceDiagnostic(s, raise));
  add([0x91], (s) => specify(s, raise), true);
  add([0x94, 0x95, 0x96, 0x97, 0x99, 0xe0, 0xe1, 0xe2, 0xe3, 0xe6], nop); // standby, idle, sleep
  add([0x98, 0xe5], (s) => { s.nsector = 0xff; return true; }, true); // CHECK POWER MODE: active or idle
  add([0xc6], setMultipleMode, true);
  add([0xe7, 0xea], flushCache); // FLUSH CACHE (EXT)
  add([0xec], (s) => identify(s, raise));
  add([0xef], setFeatures, true);
  return t;
}

/**
 * ide_exec_cmd on the selected position `s`: commands to an absent device 1
 * are ignored, as is anything while BSY or DRQ is set; unknown commands abort
 * with an interrupt.
 */
export class IdeCommands {
  private readonly table: Map<number, CommandEntry>;
  constructor(private readonly raise: RaiseIrq, dma: IdeDmaEngine | null) {
    this.table = commandTable(raise, dma);
  }

  exec(s: IdeState, isDevice1: boolean, cmd: number): void {
    if (isDevice1 && s.disk === null) return;
    if (s.status & (BUSY_STAT | DRQ_STAT)) return; // only ATAPI's DEVICE RESET may interrupt a command
    const entry = s.disk === null ? undefined : this.table.get(cmd);
    if (entry === undefined) {
      s.abort();
      this.raise();
      return;
    }
    s.status = READY_STAT | BUSY_STAT;
    s.error = 0;
    if (!entry.handler(s, cmd)) return;
    s.status &= ~BUSY_STAT;
    if (entry.setDsc && !(s.status & ERR_STAT)) s.status |= SEEK_STAT;
    this.raise();
  }
}
