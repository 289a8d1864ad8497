// One device position on an IDE channel (QEMU's IDEState, hw/ide/internal.h):
// the task-file registers, status and error, and the PIO transfer in progress.
// Both positions exist on every channel (an empty one still latches register
// writes); `disk` is null where no drive is attached.
import { type DeviceStateValue, stateField } from '../../snapshot/device-state';
import type { AtaDisk } from './ata-disk';

/** Status register bits (hw/ide/internal.h). */
export const ERR_STAT = 0x01;
export const DRQ_STAT = 0x08;
export const SEEK_STAT = 0x10;
export const READY_STAT = 0x40;
export const BUSY_STAT = 0x80;
/** Error register: command aborted. */
export const ABRT_ERR = 0x04;
/** Device/head: always-one bits, LBA, the head bits. */
export const ATA_DEV_ALWAYS_ON = 0xa0;
export const ATA_DEV_LBA = 0x40;
export const ATA_DEV_HS = 0x0f;
/** The I/O buffer: IDE_DMA_BUF_SECTORS (256) sectors. */
const IO_BUFFER_SIZE = 256 * 512;
/** The registers a snapshot keeps, by name. */
const REGISTERS = [
  'feature', 'error', 'nsector', 'sector', 'lcyl', 'hcyl', 'hobFeature', 'hobNsector', 'hobSector', 'hobLcyl', 'hobHcyl',
  'select', 'status', 'reqNbSectors', 'dataPtr', 'dataEnd',
] as const;
const END_TRANSFERS: readonly EndTransfer[] = ['stop', 'read', 'write'];

/**
 * What happens when the guest has moved the whole buffer (QEMU's
 * end_transfer_func): 'stop' ends the command, 'read' loads the next sectors,
 * 'write' writes the buffer out. 'read' and 'stop' are device-to-host.
 */
export type EndTransfer = 'stop' | 'read' | 'write';

/**
 * The channel's bus-master DMA engine (QEMU's IDEDMA ops): a DMA command
 * hands it the position; it moves the data when the guest starts the engine
 * and completes the command through the channel's interrupt.
 */
export interface IdeDmaEngine {
  /** ide_bus_set_irq's IDEDMA hook: the channel raised its IRQ (BMDMA's interrupt bit). */
  interrupt(): void;
  /** Called once by the channel: how the engine raises the channel's IRQ (nIEN applies). */
  connect(raise: () => void): void;
  /** ide_start_dma: `s` waits for its transfer (direction: write = guest memory to disk). */
  start(s: IdeState, write: boolean): void;
}

export class IdeState {
  readonly disk: AtaDisk | null;
  feature = 0;
  error = 0;
  /** the sector count; holds the full count (up to 65536) once a command took it in */
  nsector = 0;
  sector = 0;
  lcyl = 0;
  hcyl = 0;
  hobFeature = 0;
  hobNsector = 0;
  hobSector = 0;
  hobLcyl = 0;
  hobHcyl = 0;
  select = ATA_DEV_ALWAYS_ON;
  status = READY_STAT | SEEK_STAT;
  lba48 = false;
  /** sectors per DRQ block of the running command (1, or the multiple mode's) */
  reqNbSectors = 1;
  readonly ioBuffer = new Uint8Array(IO_BUFFER_SIZE);
  dataPtr = 0;
  dataEnd = 0;
  endTransfer: EndTransfer = 'stop';

  constructor(disk: AtaDisk | null) {
    this.disk = disk;
  }

  /** ide_reset (the registers, the signature-free power-on state). */
  reset(): void {
    this.disk?.reset();
    this.feature = this.error = this.nsector = this.sector = this.lcyl = this.hcyl = 0;
    this.hobFeature = this.hobNsector = this.hobSector = this.hobLcyl = this.hobHcyl = 0;
    this.select = ATA_DEV_ALWAYS_ON;
    this.status = READY_STAT | SEEK_STAT;
    this.lba48 = false;
    this.reqNbSectors = 1;
    this.transferHalt();
    // ide_dummy_transfer_stop: the buffer's first word reads as all ones
    this.ioBuffer.fill(0xff, 0, 4);
  }

  /** ide_set_signature: what SRST and EXECUTE DEVICE DIAGNOSTIC leave (a disk: 0/0, nothing: 0xff/0xff). */
  setSignature(): void {
    this.select &= ~ATA_DEV_HS;
    this.nsector = 1;
    this.sector = 1;
    this.lcyl = this.hcyl = this.disk ? 0 : 0xff;
  }

  /** ide_transfer_start: the guest may now move `size` bytes of the buffer. */
  transferStart(size: number, end: EndTransfer): void {
    this.endTransfer = end;
    this.dataPtr = 0;
    this.dataEnd = size;
    if (!(this.status & ERR_STAT)) this.status |= DRQ_STAT;
  }

  /** ide_transfer_halt: no transfer, DRQ off. */
  transferHalt(): void {
    this.endTransfer = 'stop';
    this.dataPtr = this.dataEnd = 0;
    this.status &= ~DRQ_STAT;
  }

  /** ide_abort_command */
  abort(): void {
    this.transferHalt();
    this.status = READY_STAT | ERR_STAT;
    this.error = ABRT_ERR;
  }

  /** Whether the transfer moves data from the device to the guest (ide_is_pio_out). */
  pioOut(): boolean {
    return this.endTransfer !== 'write';
  }

  /** ide_get_sector: the LBA28, LBA48 or CHS address in the registers (negative for CHS sector 0). */
  getSector(): number {
    if (this.select & ATA_DEV_LBA) {
      if (this.lba48) {
        return ((this.hobHcyl * 256 + this.hobLcyl) * 256 + this.hobSector) * 2 ** 24 + ((this.hcyl << 16) | (this.lcyl << 8) | this.sector);
      }
      return (this.select & ATA_DEV_HS) * 2 ** 24 + ((this.hcyl << 16) | (this.lcyl << 8) | this.sector);
    }
    const heads = this.disk?.heads ?? 0;
    const sectors = this.disk?.sectors ?? 0;
    return ((this.hcyl << 8) | this.lcyl) * heads * sectors + (this.select & ATA_DEV_HS) * sectors + (this.sector - 1);
  }

  /** ide_set_sector: the registers after a transfer point at the next sector. */
  setSector(n: number): void {
    if (this.select & ATA_DEV_LBA) {
      if (this.lba48) {
        this.sector = n & 0xff;
        this.lcyl = Math.floor(n / 2 ** 8) & 0xff;
        this.hcyl = Math.floor(n / 2 ** 16) & 0xff;
        this.hobSector = Math.floor(n / 2 ** 24) & 0xff;
        this.hobLcyl = Math.floor(n / 2 ** 32) & 0xff;
        this.hobHcyl = Math.floor(n / 2 ** 40) & 0xff;
      } else {
        this.select = (this.select & 0xf0) | (Math.floor(n / 2 ** 24) & 0x0f);
        this.hcyl = Math.floor(n / 2 ** 16) & 0xff;
        this.lcyl = Math.floor(n / 2 ** 8) & 0xff;
        this.sector = n & 0xff;
      }
      return;
    }
    const heads = this.disk?.heads ?? 0;
    const sectors = this.disk?.sectors ?? 0;
    if (heads * sectors === 0) return; // INITIALIZE DEVICE PARAMETERS with 0 sectors: no CHS translation
    const cyl = Math.floor(n / (heads * sectors));
    const r = n % (heads * sectors);
    this.hcyl = (cyl >> 8) & 0xff;
    this.lcyl = cyl & 0xff;
    this.select = (this.select & 0xf0) | (Math.floor(r / sectors) & 0x0f);
    this.sector = ((r % sectors) + 1) & 0xff;
  }

  /** ide_cmd_lba48_transform: the full sector count of the command (0 means 256, or 65536 for EXT). */
  takeSectorCount(lba48: boolean): void {
    this.lba48 = lba48;
    if (!lba48) {
      if (!this.nsector) this.nsector = 256;
    } else if (!this.nsector && !this.hobNsector) {
      this.nsector = 65536;
    } else {
      this.nsector = (this.hobNsector << 8) | (this.nsector & 0xff);
    }
  }

  /** The registers, the transfer in progress (only the bytes of the buffer it uses) and the disk's settings. */
  saveState(): DeviceStateValue {
    const regs: { [key: string]: DeviceStateValue } = {};
    for (const k of REGISTERS) regs[k] = this[k];
    return {
      ...regs, lba48: this.lba48, endTransfer: this.endTransfer, buffer: this.ioBuffer.slice(0, this.dataEnd),
      disk: this.disk ? this.disk.saveState() : null,
    };
  }

  /** Checks everything first; throws without changing anything on a state this position cannot take. */
  loadState(state: DeviceStateValue, name: string): void {
    const values = REGISTERS.map((k) => stateField(state, k, 'number', name));
    if (values.some((v) => !Number.isInteger(v) || v < 0 || v > 65536 * 512)) throw new RangeError(`${name} state: register out of range`);
    const lba48 = stateField(state, 'lba48', 'boolean', name);
    const end = stateField(state, 'endTransfer', 'string', name) as EndTransfer;
    const s = state as Record<string, DeviceStateValue>;
    const buffer = s.buffer;
    const dataEnd = values[REGISTERS.indexOf('dataEnd')];
    if (!END_TRANSFERS.includes(end)) throw new TypeError(`${name} state: endTransfer must be one of ${END_TRANSFERS.join(', ')}`);
    if (!(buffer instanceof Uint8Array) || buffer.length !== dataEnd || dataEnd > IO_BUFFER_SIZE) throw new TypeError(`${name} state: buffer must be the ${dataEnd} bytes of the transfer`);
    if ((s.disk === null) !== (this.disk === null)) throw new TypeError(`${name} state: ${this.disk ? 'a disk is attached here' : 'no disk is attached here'}`);
    if (this.disk) this.disk.checkState(s.disk, name);
    REGISTERS.forEach((k, i) => { this[k] = values[i]; });
    this.lba48 = lba48;
    this.endTransfer = end;
    this.ioBuffer.set(buffer);
    this.disk?.loadState(s.disk);
  }
}
