// An IDE channel (QEMU's IDEBus, hw/ide/core.c and hw/ide/ioport.c): the
// command block "ide" (8 ports: data, error/features, sector count, sector,
// cylinder low/high, device/head, status/command) and the control block "ide"
// (1 port: alternate status / device control), as ide_init_ioport registers
// them; two device positions, one IRQ line.
//
// Register writes reach both positions (they share the cable); reads come from
// the selected one. Port widths follow QEMU's portio list: bytes everywhere,
// words and dwords at the data port; a word elsewhere is two byte accesses, a
// dword elsewhere reads all ones and writes nothing (ioport.c, portio_read).
//
// The IRQ is raised when a command completes or a DRQ block is ready, unless
// nIEN is set in device control; reading the status register (not the
// alternate status) or writing a command lowers it. SRST (device control bit
// 2) resets both positions at once and leaves the signature (QEMU does it in
// a bottom half right after the write, and clears SRST in its latch then).
import { MemoryRegion } from '../../memory/region';
import type { MemoryRegionOps } from '../../memory/types';
import { checkOptions, type OptionKeys } from '../../options';
import { type DeviceStateValue, type SnapshotDevice, stateField } from '../../snapshot/device-state';
import { hex } from '../../util/hex';
import { checkIoPort, type Device, type DeviceMapping } from '../device';
import { type IrqLine, toIrqLine } from '../irq-line';
import type { AtaDisk } from './ata-disk';
import { execDeviceDiagnostic, IdeCommands, sectorRead, sectorWrite } from './ide-commands';
import { ATA_DEV_ALWAYS_ON, BUSY_STAT, DRQ_STAT, type IdeDmaEngine, IdeState } from './ide-state';

/** Device control bits. */
const IDE_CTRL_HOB = 0x80;
const IDE_CTRL_RESET = 0x04;
const IDE_CTRL_DISABLE_IRQ = 0x02;
const ATA_DEV_SELECT = 0x10;

/** The PC's two channels (hw/ide/piix.c port_info): command block, control block, ISA IRQ. */
export const IDE_PRIMARY = { iobase: 0x1f0, iobase2: 0x3f6, irq: 14 } as const;
export const IDE_SECONDARY = { iobase: 0x170, iobase2: 0x376, irq: 15 } as const;

export interface IdeBusOptions {
  /** The command block's base port (0x1f0 primary, 0x170 secondary). */
  iobase: number;
  /** The control block's port (0x3f6 primary, 0x376 secondary). */
  iobase2: number;
  /** The channel's interrupt (ISA IRQ 14 / 15): an IrqLine or a function of the level. */
  irq?: IrqLine | ((level: boolean) => void);
  /** Device 0 (master) and device 1 (slave); null or absent for an empty position. */
  drives?: readonly (AtaDisk | null)[];
  /** The bus-master DMA engine (PiixBmdma's channel); without it DMA commands abort. */
  dma?: IdeDmaEngine;
}

const IDE_BUS_OPTIONS = { iobase: true, iobase2: true, irq: true, drives: true, dma: true } as const satisfies OptionKeys<IdeBusOptions>;

export class IdeBus implements Device, SnapshotDevice {
  /** QEMU's bus type name. */
  readonly name = 'IDE';
  /** QEMU's bus id for the PC's channels ('ide.0', 'ide.1'), else 'ide@<iobase>'. */
  readonly snapshotName: string;
  /** The command block: "ide", 8 ports. */
  readonly region: MemoryRegion;
  /** The control block: "ide", 1 port. */
  readonly controlRegion: MemoryRegion;
  /** Both at their ISA ports in the I/O space, priority 0 (isa_register_portio_list). */
  readonly mappings: readonly DeviceMapping[];
  /** ifs[0], ifs[1] */
  readonly units: readonly [IdeState, IdeState];
  private readonly irq: IrqLine | null;
  private readonly dma: IdeDmaEngine | null;
  private readonly commands: IdeCommands;
  /** bus->unit: the selected position */
  private unit = 0;
  /** bus->cmd: the device control latch */
  private cmd = 0;
  private irqLevel = false;

  constructor(options: IdeBusOptions) {
    const opts = checkOptions(options, IDE_BUS_OPTIONS, 'new IdeBus()');
    const iobase = checkIoPort(opts.iobase, 'IdeBus iobase');
    const iobase2 = checkIoPort(opts.iobase2, 'IdeBus iobase2');
    this.snapshotName = iobase === IDE_PRIMARY.iobase ? 'ide.0' : iobase === IDE_SECONDARY.iobase ? 'ide.1' : `ide@${hex(iobase)}`;
    const drives = opts.drives ?? [];
    if (!Array.isArray(drives) || drives.length > 2) throw new TypeError('IdeBus: drives must be an array of at most 2 AtaDisks (or null)');
    const dma = opts.dma ?? null;
    if (dma !== null && (typeof dma !== 'object' || typeof dma.start !== 'function')) throw new TypeError('IdeBus: dma must be a BMDMA channel (PiixBmdma.channels[i])');
    this.irq = toIrqLine(opts.irq, 'IdeBus irq') ?? null;
    this.dma = dma;
    this.units = [new IdeState(drives[0] ?? null), new IdeState(drives[1] ?? null)];
    this.commands = new IdeCommands(() => this.raiseIrq(), dma);
    dma?.connect(() => this.raiseIrq());
    const commandOps: MemoryRegionOps = {
      read: (offset, size) => this.commandRead(Number(offset), size),
      write: (offset, value, size) => this.commandWrite(Number(offset), Number(value), size),
      impl: { minAccessSize: 1, maxAccessSize: 4, unaligned: true },
      valid: { minAccessSize: 1, maxAccessSize: 4, unaligned: true }, // portio_ops
      endianness: 'little',
    };
    const controlOps: MemoryRegionOps = {
      read: (_offset, size) => (size === 1 ? this.statusRead() : size === 2 ? 0xff00 | this.statusRead() : 0xffffffff),
      write: (_offset, value, size) => {
        if (size <= 2) this.controlWrite(Number(value) & 0xff);
      },
      impl: { minAccessSize: 1, maxAccessSize: 4, unaligned: true },
      valid: { minAccessSize: 1, maxAccessSize: 4, unaligned: true }, // portio_ops
      endianness: 'little',
    };
    this.region = MemoryRegion.io('ide', 8, commandOps);
    this.controlRegion = MemoryRegion.io('ide', 1, controlOps);
    this.mappings = [
      { space: 'io', address: BigInt(iobase), region: this.region },
      { space: 'io', address: BigInt(iobase2), region: this.controlRegion },
    ];
    this.reset();
  }

  /** Whether the IRQ line is high now. */
  get irqPending(): boolean {
    return this.irqLevel;
  }

  /** ide_bus_reset: both positions to power-on, selection and control latch cleared, the line low. */
  reset(): void {
    this.unit = 0;
    this.cmd = 0;
    for (const s of this.units) s.reset();
    this.setIrq(false);
  }

  private get active(): IdeState {
    return this.units[this.unit];
  }

  /** No drive on the channel, or device 1 selected and absent: registers read as 0. */
  private selectedAbsent(): boolean {
    return this.active.disk === null && (this.unit === 1 || this.units[1].disk === null);
  }

  private bothAbsent(): boolean {
    return this.units[0].disk === null && this.units[1].disk === null;
  }

  // ------------------------------------------------------------ the ports

  private commandRead(offset: number, size: number): number {
    if (offset === 0 && size === 2) return this.dataRead(2);
    if (offset === 0 && size === 4) return this.dataRead(4);
    if (size === 4 || size > 4) return 0xffffffff;
    if (size === 2) return this.registerRead(offset) | (offset + 1 < 8 ? this.registerRead(offset + 1) << 8 : 0xff00);
    return this.registerRead(offset);
  }

  private commandWrite(offset: number, value: number, size: number): void {
    if (offset === 0 && (size === 2 || size === 4)) return this.dataWrite(value, size);
    if (size === 2) {
      this.registerWrite(offset, value & 0xff);
      if (offset + 1 < 8) this.registerWrite(offset + 1, (value >> 8) & 0xff);
    } else if (size === 1) {
      this.registerWrite(offset, value & 0xff);
    }
  }

  /** ide_ioport_read */
  private registerRead(reg: number): number {
    const s = this.active;
    const hob = (this.cmd & IDE_CTRL_HOB) !== 0;
    switch (reg) {
      case 0:
        return this.dataRead(2) & 0xff; // a byte read consumes a word (QEMU, for the old Solaris boot loader)
      case 1:
        return this.selectedAbsent() ? 0 : hob ? s.hobFeature : s.error;
      case 2:
        return this.bothAbsent() ? 0 : hob ? s.hobNsector : s.nsector & 0xff;
      case 3:
        return this.bothAbsent() ? 0 : hob ? s.hobSector : s.sector;
      case 4:
        return this.bothAbsent() ? 0 : hob ? s.hobLcyl : s.lcyl;
      case 5:
        return this.bothAbsent() ? 0 : hob ? s.hobHcyl : s.hcyl;
      case 6:
        return this.bothAbsent() ? 0 : s.select;
      default: {
        const status = this.selectedAbsent() ? 0 : s.status;
        this.setIrq(false);
        return status;
      }
    }
  }

  /** ide_ioport_write */
  private registerWrite(reg: number, val: number): void {
    // writes to the command block are ignored while the selected device is busy, except a command
    if (reg !== 7 && this.active.status & (BUSY_STAT | DRQ_STAT)) return;
    if (reg === 0) return;
    this.cmd &= ~IDE_CTRL_HOB; // ide_clear_hob
    for (const s of this.units) {
      switch (reg) {
        case 1:
          s.hobFeature = s.feature;
          s.feature = val;
          break;
        case 2:
          s.hobNsector = s.nsector & 0xff;
          s.nsector = val;
          break;
        case 3:
          s.hobSector = s.sector;
          s.sector = val;
          break;
        case 4:
          s.hobLcyl = s.lcyl;
          s.lcyl = val;
          break;
        case 5:
          s.hobHcyl = s.hcyl;
          s.hcyl = val;
          break;
        case 6:
          s.select = val | ATA_DEV_ALWAYS_ON;
          break;
        default:
          break;
      }
    }
    if (reg === 6) this.unit = val & ATA_DEV_SELECT ? 1 : 0;
    if (reg === 7) {
      this.setIrq(false);
      this.commands.exec(this.active, this.unit === 1, val);
    }
  }

  /** ide_status_read: the alternate status, which leaves the IRQ alone. */
  private statusRead(): number {
    return this.selectedAbsent() ? 0 : this.active.status;
  }

  /** ide_ctrl_write: SRST's rising edge resets both positions. */
  private controlWrite(val: number): void {
    const srst = !(this.cmd & IDE_CTRL_RESET) && val & IDE_CTRL_RESET;
    this.cmd = val;
    if (!srst) return;
    for (const s of this.units) {
      // ide_perform_srst: stop the transfer, reset, then the diagnostic's signature
      s.reset();
      execDeviceDiagnostic(s, () => this.raiseIrq());
    }
    this.cmd &= ~IDE_CTRL_RESET;
  }

  // ------------------------------------------------------------ data

  /** ide_data_readw / ide_data_readl: only during a device-to-host DRQ block, else 0. */
  private dataRead(size: 2 | 4): number {
    const s = this.active;
    if (!(s.status & DRQ_STAT) || !s.pioOut() || s.dataPtr + size > s.dataEnd) return 0;
    const b = s.ioBuffer;
    const p = s.dataPtr;
    const value = size === 2 ? b[p] | (b[p + 1] << 8) : (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
    s.dataPtr += size;
    if (s.dataPtr >= s.dataEnd) this.endTransfer(s);
    return value;
  }

  /** ide_data_writew / ide_data_writel: only during a host-to-device DRQ block. */
  private dataWrite(value: number, size: 2 | 4): void {
    const s = this.active;
    if (!(s.status & DRQ_STAT) || s.pioOut() || s.dataPtr + size > s.dataEnd) return;
    for (let i = 0; i < size; i++) s.ioBuffer[s.dataPtr + i] = (value >>> (8 * i)) & 0xff;
    s.dataPtr += size;
    if (s.dataPtr >= s.dataEnd) this.endTransfer(s);
  }

  /** The block is done: end_transfer_func */
  private endTransfer(s: IdeState): void {
    s.status &= ~DRQ_STAT;
    const raise = () => this.raiseIrq();
    if (s.endTransfer === 'read') sectorRead(s, raise);
    else if (s.endTransfer === 'write') sectorWrite(s, raise);
    else s.transferHalt();
  }

  // ------------------------------------------------------------ IRQ

  /** ide_bus_set_irq: raised unless nIEN masks it. */
  private raiseIrq(): void {
    if (this.cmd & IDE_CTRL_DISABLE_IRQ) return;
    this.dma?.interrupt();
    this.setIrq(true);
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq?.set(level);
  }

  // ------------------------------------------------------------ snapshot

  /** Both positions, the selection, the control latch and the line (a BMDMA transfer is the PCI function's state). */
  saveState(): DeviceStateValue {
    return { unit: this.unit, cmd: this.cmd, irqLevel: this.irqLevel, units: this.units.map((u) => u.saveState()) };
  }

  loadState(state: DeviceStateValue): void {
    const name = this.snapshotName;
    const unit = stateField(state, 'unit', 'number', name);
    const cmd = stateField(state, 'cmd', 'number', name);
    const irqLevel = stateField(state, 'irqLevel', 'boolean', name);
    const units = (state as Record<string, DeviceStateValue>).units;
    if ((unit !== 0 && unit !== 1) || !Number.isInteger(cmd) || cmd < 0 || cmd > 0xff) throw new RangeError(`${name} state: unit must be 0 or 1, cmd a byte`);
    if (!Array.isArray(units) || units.length !== 2) throw new TypeError(`${name} state: units must be an array of 2`);
    // check both before changing either: a backup of position 0 restores it if position 1 refuses
    const backup = this.units[0].saveState();
    this.units[0].loadState(units[0], name);
    try {
      this.units[1].loadState(units[1], name);
    } catch (e) {
      this.units[0].loadState(backup, name);
      throw e;
    }
    this.unit = unit;
    this.cmd = cmd;
    this.setIrq(irqLevel);
  }

  /** Takes the regions out of the I/O space and frees them (the drives' images are their owner's). */
  close(): void {
    this.region.close();
    this.controlRegion.close();
  }
}
