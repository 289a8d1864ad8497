// QEMU's isa-fdc (hw/block/fdc-isa.c, fdc.c) with no drive attached, as the
// pc machine has it: the controller at 0x3f0 (regions "fdc" 0x3f1-0x3f5 and
// 0x3f7, a portio list), IRQ 6, DMA channel 2. What a guest sees is QEMU's
// controller with its two empty drive positions: SRB, DOR, TDR, MSR/DSR, the
// FIFO with its command, result and reset phases, DIR/CCR, the reset
// interrupt and its four SENSE INTERRUPT STATUS answers, SPECIFY, CONFIGURE,
// LOCK, DUMPREG, VERSION, PART ID, the seeks (which raise IRQ 6; without
// media the heads stay on track 0), SENSE DRIVE STATUS (write-protected, as
// QEMU reports an empty drive), and every transfer command ending at once
// with QEMU's abnormal-termination result.
//
// Not modelled (answered as an invalid command, 0x80): READ ID (QEMU answers
// it from a 20 ms timer), FORMAT TRACK, READ/WRITE DELETED DATA, SAVE,
// RESTORE and the DRIVE SPECIFICATION COMMAND. A terminated transfer does
// not release DMA channel 2's request bit in the i8257 as QEMU does.
import { checkOptions, type OptionKeys } from '../options';
import { byteStateField, stateField, type DeviceStateValue, type SnapshotDevice } from '../snapshot/device-state';
import type { Device, DeviceMapping } from './device';
import { fdcCommand, type FdcHandler } from './fdc-commands';
import { toIrqLine, type IrqLine } from './irq-line';
import { bytePortioRegion } from './portio';

export const FDC_IOBASE = 0x3f0;
export const FDC_IRQ = 6;

// Registers bits (fdc.c)
const FD_SRA_INTPEND = 0x80;
const FD_SRA_NDRV2 = 0x40;
const FD_SRB_MTR0 = 0x01;
const FD_SRB_MTR1 = 0x02;
const FD_SRB_DR0 = 0x20;
const FD_DOR_SELMASK = 0x01; // MAX_FD 2
const FD_DOR_NRESET = 0x04;
const FD_DOR_DMAEN = 0x08;
const FD_DOR_MOTEN0 = 0x10;
const FD_DOR_MOTEN1 = 0x20;
const FD_TDR_BOOTSEL = 0x04; // MAX_FD 2
const FD_DSR_DRATEMASK = 0x03;
const FD_DSR_PWRDOWN = 0x40;
const FD_DSR_SWRESET = 0x80;
const FD_MSR_CMDBUSY = 0x10;
const FD_MSR_DIO = 0x40;
const FD_MSR_RQM = 0x80;
const FD_SR0_DS0 = 0x01;
const FD_SR0_DS1 = 0x02;
const FD_SR0_HEAD = 0x04;
const FD_SR0_SEEK = 0x20;
const FD_SR0_ABNTERM = 0x40;
const FD_SR0_INVCMD = 0x80;
const FD_SR0_RDYCHG = 0xc0;
const FD_SR1_EC = 0x80;
const FD_DIR_DSKCHG = 0x80;
const FD_RESET_SENSEI_COUNT = 4;
const FD_SECTOR_SC = 2;
/** FD_CONFIG_EIS | FD_CONFIG_EFIFO: implied seek and FIFO on (fdctrl_realize_common). */
const CONFIG_DEFAULT = 0x60;
/** An 82078 (fdctrl->version). */
const FDC_VERSION = 0x90;
const FDC_PART_ID = 0x41;
const FIFO_SIZE = 512;

/** An empty drive position (FDrive with no medium): always on track 0, read-only, media changed. */
interface Drive { head: number; track: number; sect: number; perpendicular: number }

export interface IsaFdcOptions {
  /** IRQ 6 (QEMU's "irq" property). */
  irq: IrqLine | ((level: boolean) => void);
}

const ISA_FDC_OPTIONS = { irq: true } as const satisfies OptionKeys<IsaFdcOptions>;

export class IsaFdc implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'isa-fdc';
  readonly snapshotName = 'isa-fdc';
  /** "fdc" 0x3f1-0x3f5 and "fdc" 0x3f7. */
  readonly mappings: readonly DeviceMapping[];
  private readonly irq: IrqLine;
  private drives: [Drive, Drive] = [newDrive(), newDrive()];
  private sra = 0;
  private srb = 0;
  private dor = 0;
  private tdr = 0;
  private dsr = 0;
  private msr = 0;
  private curDrv = 0;
  private status0 = 0;
  private resetSensei = 0;
  private fifo = new Uint8Array(FIFO_SIZE);
  private dataPos = 0;
  private dataLen = 0;
  private timer0 = 0;
  private timer1 = 0;
  private lock = 0;
  private config = CONFIG_DEFAULT;
  private precompTrk = 0;
  private pwrd = 0;

  constructor(options: IsaFdcOptions) {
    const opts = checkOptions(options, ISA_FDC_OPTIONS, 'new IsaFdc()');
    const irq = toIrqLine(opts.irq, 'IsaFdc irq');
    if (irq === undefined) throw new TypeError('new IsaFdc(): irq is required (IRQ 6 on the pc machine)');
    this.irq = irq;
    const ports = { read: (port: number) => this.read(port & 7), write: (port: number, v: number) => this.write(port & 7, v) };
    this.mappings = [bytePortioRegion('fdc', FDC_IOBASE + 1, 5, ports), bytePortioRegion('fdc', FDC_IOBASE + 7, 1, ports)];
    this.resetController(false);
  }

  /** fdctrl_read */
  private read(reg: number): number {
    switch (reg) {
      case 1: return this.srb;
      case 2: return this.dor | this.curDrv;
      case 3: return this.tdr;
      case 4: // fdctrl_read_main_status: also ends power-down and reset
        this.dsr &= ~FD_DSR_PWRDOWN;
        this.dor |= FD_DOR_NRESET;
        return this.msr;
      case 5: return this.readData();
      case 7: return FD_DIR_DSKCHG; // fdctrl_read_dir: an empty drive's media_changed stays set
      default: return 0xff;
    }
  }

  /** fdctrl_write */
  private write(reg: number, value: number): void {
    switch (reg) {
      case 2: this.writeDor(value); break;
      case 3: if (this.dor & FD_DOR_NRESET) this.tdr = value & FD_TDR_BOOTSEL; break;
      case 4: this.writeRate(value); break;
      case 5: this.writeData(value); break;
      case 7: if (this.dor & FD_DOR_NRESET) this.dsr = (this.dsr & ~FD_DSR_DRATEMASK) | (value & FD_DSR_DRATEMASK); break;
      default: break;
    }
  }

  /** fdctrl_write_dor: motor and drive bits into SRB, then a reset if nRESET rises. */
  private writeDor(value: number): void {
    const bit = (on: number, mask: number) => { this.srb = on ? this.srb | mask : this.srb & ~mask; };
    bit(value & FD_DOR_MOTEN0, FD_SRB_MTR0);
    bit(value & FD_DOR_MOTEN1, FD_SRB_MTR1);
    bit(value & 1, FD_SRB_DR0);
    if (value & FD_DOR_NRESET && !(this.dor & FD_DOR_NRESET)) {
      this.resetController(true);
      this.dsr &= ~FD_DSR_PWRDOWN;
    }
    this.curDrv = value & FD_DOR_SELMASK;
    this.dor = value;
  }

  /** fdctrl_write_rate (DSR) */
  private writeRate(value: number): void {
    if (!(this.dor & FD_DOR_NRESET)) return;
    if (value & FD_DSR_SWRESET) {
      this.dor &= ~FD_DOR_NRESET;
      this.resetController(true);
      this.dor |= FD_DOR_NRESET;
    }
    if (value & FD_DSR_PWRDOWN) this.resetController(true);
    this.dsr = value;
  }

  /** fdctrl_read_data: result bytes; the last one ends the command and lowers IRQ 6. */
  private readData(): number {
    this.dsr &= ~FD_DSR_PWRDOWN;
    if (!(this.msr & FD_MSR_RQM) || !(this.msr & FD_MSR_DIO)) return 0;
    const pos = this.dataPos % FIFO_SIZE;
    if (++this.dataPos === this.dataLen) {
      this.msr &= ~FD_MSR_RQM;
      this.toCommandPhase();
      this.resetIrq();
    }
    return this.fifo[pos];
  }

  /** fdctrl_write_data: a command byte and its parameters; the last one runs it. */
  private writeData(value: number): void {
    if (!(this.dor & FD_DOR_NRESET)) return;
    if (!(this.msr & FD_MSR_RQM) || this.msr & FD_MSR_DIO) return;
    this.dsr &= ~FD_DSR_PWRDOWN;
    const pos = this.dataPos++ % FIFO_SIZE;
    this.fifo[pos] = value;
    if (this.dataPos === this.dataLen) this.msr &= ~FD_MSR_RQM;
    if (pos === 0) {
      const cmd = fdcCommand(value);
      this.dataLen = cmd.parameters + 1;
      if (cmd.parameters) this.msr |= FD_MSR_RQM;
      this.msr |= FD_MSR_CMDBUSY;
    }
    if (this.dataPos === this.dataLen) this.execute(fdcCommand(this.fifo[0]).handler);
  }

  private execute(handler: FdcHandler): void {
    const f = this.fifo;
    switch (handler) {
      case 'senseInterruptStatus': this.senseInterruptStatus(); break;
      case 'recalibrate':
      case 'seek':
      case 'relativeSeekOut':
      case 'relativeSeekIn':
        // fd_recalibrate and fd_seek: an empty drive never leaves track 0
        this.curDrv = f[1] & FD_DOR_SELMASK;
        this.drives[this.curDrv].track = 0;
        this.toCommandPhase();
        this.status0 |= FD_SR0_SEEK;
        this.raiseIrq();
        break;
      case 'transfer': this.startTransfer(); break;
      case 'specify':
        this.timer0 = (f[1] >> 4) & 0xf;
        this.timer1 = f[2] >> 1;
        this.dor = f[2] & 1 ? this.dor & ~FD_DOR_DMAEN : this.dor | FD_DOR_DMAEN;
        this.toCommandPhase();
        break;
      case 'senseDriveStatus': {
        this.curDrv = f[1] & FD_DOR_SELMASK;
        const d = this.drives[this.curDrv];
        d.head = (f[1] >> 2) & 1;
        f[0] = 0x40 | (d.track === 0 ? 0x10 : 0) | (d.head << 2) | this.curDrv | 0x28; // ro: no medium
        this.toResultPhase(1);
        break;
      }
      case 'perpendicularMode':
        if (f[1] & 0x80) this.drives[this.curDrv].perpendicular = f[1] & 0x7;
        this.toCommandPhase();
        break;
      case 'configure':
        this.config = f[2];
        this.precompTrk = f[3];
        this.toCommandPhase();
        break;
      case 'powerdownMode':
        this.pwrd = f[1];
        f[0] = f[1];
        this.toResultPhase(1);
        break;
      case 'option': this.toCommandPhase(); break;
      case 'lock':
        this.lock = f[0] & 0x80 ? 1 : 0;
        f[0] = this.lock << 4;
        this.toResultPhase(1);
        break;
      case 'dumpreg': {
        const d = this.drives[this.curDrv];
        f.set([this.drives[0].track, this.drives[1].track, 0, 0, this.timer0, (this.timer1 << 1) | (this.dor & FD_DOR_DMAEN ? 1 : 0),
          0, (this.lock << 7) | (d.perpendicular << 2), this.config, this.precompTrk]);
        this.toResultPhase(10);
        break;
      }
      case 'version': f[0] = FDC_VERSION; this.toResultPhase(1); break;
      case 'partId': f[0] = FDC_PART_ID; this.toResultPhase(1); break;
      default: // fdctrl_unimplemented, and the commands not modelled here
        f[0] = FD_SR0_INVCMD;
        this.toResultPhase(1);
        break;
    }
  }

  /** fdctrl_handle_sense_interrupt_status */
  private senseInterruptStatus(): void {
    const f = this.fifo;
    if (this.resetSensei > 0) {
      f[0] = FD_SR0_RDYCHG + FD_RESET_SENSEI_COUNT - this.resetSensei;
      this.resetSensei--;
    } else if (!(this.sra & FD_SRA_INTPEND)) {
      f[0] = FD_SR0_INVCMD;
      this.toResultPhase(1);
      return;
    } else {
      f[0] = (this.status0 & ~(FD_SR0_HEAD | FD_SR0_DS1 | FD_SR0_DS0)) | this.curDrv;
    }
    f[1] = this.drives[this.curDrv].track;
    this.toResultPhase(2);
    this.resetIrq();
    this.status0 = FD_SR0_RDYCHG;
  }

  /**
   * fdctrl_start_transfer on an empty drive: fd_seek refuses (2: no medium,
   * or a track/head beyond it; 3: a sector beyond its last, 0) and the
   * command ends with abnormal termination (fdctrl_stop_transfer).
   */
  private startTransfer(): void {
    const f = this.fifo;
    this.curDrv = f[1] & FD_DOR_SELMASK;
    const [kt, kh, ks] = [f[2], f[3], f[4]];
    const sectTooBig = kt === 0 && kh === 0 && ks > 0;
    const d = this.drives[this.curDrv];
    this.status0 = (this.status0 & ~(FD_SR0_DS0 | FD_SR0_DS1 | FD_SR0_HEAD)) | this.curDrv | (d.head ? FD_SR0_HEAD : 0) | FD_SR0_ABNTERM;
    f.set([this.status0, sectTooBig ? FD_SR1_EC : 0, 0, kt, kh, ks, FD_SECTOR_SC]);
    this.msr |= FD_MSR_RQM | FD_MSR_DIO;
    this.toResultPhase(7);
    this.raiseIrq();
  }

  private toCommandPhase(): void {
    this.dataPos = 0;
    this.dataLen = 1;
    this.msr = (this.msr & ~(FD_MSR_CMDBUSY | FD_MSR_DIO)) | FD_MSR_RQM;
  }

  private toResultPhase(len: number): void {
    this.dataLen = len;
    this.dataPos = 0;
    this.msr |= FD_MSR_CMDBUSY | FD_MSR_RQM | FD_MSR_DIO;
  }

  private raiseIrq(): void {
    if (!(this.sra & FD_SRA_INTPEND)) {
      this.irq.set(true);
      this.sra |= FD_SRA_INTPEND;
    }
    this.resetSensei = 0;
  }

  private resetIrq(): void {
    this.status0 = 0;
    if (!(this.sra & FD_SRA_INTPEND)) return;
    this.irq.set(false);
    this.sra &= ~FD_SRA_INTPEND;
  }

  /** fdctrl_reset; with `irq`, the reset interrupt and its four SENSE INTERRUPT STATUS answers. */
  private resetController(irq: boolean): void {
    this.resetIrq();
    this.sra = FD_SRA_NDRV2;
    this.srb = 0xc0;
    this.curDrv = 0;
    this.dor = FD_DOR_NRESET | FD_DOR_DMAEN;
    this.msr = FD_MSR_RQM;
    this.resetSensei = 0;
    for (const d of this.drives) Object.assign(d, { head: 0, track: 0, sect: 1 });
    this.toCommandPhase();
    if (irq) {
      this.status0 |= FD_SR0_RDYCHG;
      this.raiseIrq();
      this.resetSensei = FD_RESET_SENSEI_COUNT;
    }
  }

  /** fdctrl_external_reset_isa: a controller reset without the interrupt (a pending one is lowered). */
  reset(): void {
    this.resetController(false);
  }

  saveState(): DeviceStateValue {
    return {
      sra: this.sra, srb: this.srb, dor: this.dor, tdr: this.tdr, dsr: this.dsr, msr: this.msr, curDrv: this.curDrv,
      status0: this.status0, resetSensei: this.resetSensei, fifo: this.fifo.slice(),
      dataPos: this.dataPos, dataLen: this.dataLen, timer0: this.timer0, timer1: this.timer1, lock: this.lock,
      config: this.config, precompTrk: this.precompTrk, pwrd: this.pwrd,
      drives: this.drives.map((d) => ({ ...d })),
    };
  }

  loadState(state: DeviceStateValue): void {
    const what = this.snapshotName;
    const bytes = ['sra', 'srb', 'dor', 'tdr', 'dsr', 'msr', 'status0', 'timer0', 'timer1', 'config', 'precompTrk', 'pwrd'] as const;
    const b = Object.fromEntries(bytes.map((k) => [k, byteStateField(state, k, what)])) as Record<(typeof bytes)[number], number>;
    const small = (k: string, max: number) => {
      const v = stateField(state, k, 'number', what);
      if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} state: ${k} must be an integer from 0 to ${max}`);
      return v;
    };
    const curDrv = small('curDrv', 1);
    const resetSensei = small('resetSensei', FD_RESET_SENSEI_COUNT);
    const lock = small('lock', 1);
    const dataLen = small('dataLen', FIFO_SIZE);
    const dataPos = small('dataPos', dataLen);
    const s = state as Record<string, unknown>;
    if (!(s.fifo instanceof Uint8Array) || s.fifo.length !== FIFO_SIZE) throw new TypeError(`${what} state: fifo must be a Uint8Array of ${FIFO_SIZE} bytes`);
    if (!Array.isArray(s.drives) || s.drives.length !== 2) throw new TypeError(`${what} state: drives must be an array of 2`);
    const drives = s.drives.map((d: DeviceStateValue) => ({
      head: byteStateField(d, 'head', what) & 1, track: byteStateField(d, 'track', what),
      sect: byteStateField(d, 'sect', what), perpendicular: byteStateField(d, 'perpendicular', what) & 7,
    })) as [Drive, Drive];
    Object.assign(this, b, { curDrv, resetSensei, lock, dataLen, dataPos, drives, fifo: s.fifo.slice() });
  }
}

function newDrive(): Drive {
  return { head: 0, track: 0, sect: 1, perpendicular: 0 };
}
