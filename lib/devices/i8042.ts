// QEMU's i8042 (hw/input/pckbd.c): the PC keyboard controller, with the PS/2
// keyboard (ps2-kbd.ts) on its first port. "i8042-data" at 0x60 is the
// output/input buffer, "i8042-cmd" at 0x64 the status register (read) and the
// command register (write), as QEMU's I/O tree shows them.
//
// The output buffer holds one byte (obdata): a controller reply (self test
// 0x55, command byte, ...) takes priority over keyboard bytes, and keyboard
// bytes move in only while the keyboard port is enabled, as in QEMU's
// "extended state" logic. OBF drives IRQ 1 (or IRQ 12 for aux bytes) when the
// command byte enables that interrupt. A read of 0x60 with nothing new
// returns the last byte again, as QEMU does.
//
// There is no PS/2 mouse behind the aux port: bytes sent to it (0xd4) are
// dropped, and 0xd3 (write the aux output buffer) still raises IRQ 12.
import { MemoryRegion } from '../memory/region';
import type { MemoryRegionOps } from '../memory/types';
import { checkOptions, type OptionKeys } from '../options';
import { byteStateField, type DeviceStateValue, type SnapshotDevice, stateField } from '../snapshot/device-state';
import type { Device, DeviceMapping } from './device';
import { type IrqLine, toIrqLine } from './irq-line';
import { Ps2Kbd } from './ps2-kbd';

/** Where the pc machine maps "i8042-data" and "i8042-cmd". */
export const I8042_DATA_PORT = 0x60;
export const I8042_CMD_PORT = 0x64;

// status register
const STAT_OBF = 0x01;
const STAT_SELFTEST = 0x04;
const STAT_CMD = 0x08;
const STAT_UNLOCKED = 0x10;
const STAT_MOUSE_OBF = 0x20;
// command byte ("mode")
const MODE_KBD_INT = 0x01;
const MODE_MOUSE_INT = 0x02;
const MODE_DISABLE_KBD = 0x10;
const MODE_DISABLE_MOUSE = 0x20;
const MODE_KCC = 0x40; // translate set 2 to set 1
// output port
const OUT_RESET = 0x01;
const OUT_A20 = 0x02;
const OUT_OBF = 0x10;
const OUT_MOUSE_OBF = 0x20;

/** Controller commands (KBD_CCMD_*). */
export const I8042Cmd = {
  READ_MODE: 0x20,
  WRITE_MODE: 0x60,
  MOUSE_DISABLE: 0xa7,
  MOUSE_ENABLE: 0xa8,
  TEST_MOUSE: 0xa9,
  SELF_TEST: 0xaa,
  KBD_TEST: 0xab,
  KBD_DISABLE: 0xad,
  KBD_ENABLE: 0xae,
  READ_INPORT: 0xc0,
  READ_OUTPORT: 0xd0,
  WRITE_OUTPORT: 0xd1,
  WRITE_OBUF: 0xd2,
  WRITE_AUX_OBUF: 0xd3,
  WRITE_MOUSE: 0xd4,
  DISABLE_A20: 0xdd,
  ENABLE_A20: 0xdf,
  RESET: 0xfe,
} as const;

/** The commands whose argument is the next byte written to 0x60. */
const DATA_COMMANDS: ReadonlySet<number> = new Set([
  I8042Cmd.WRITE_MODE, I8042Cmd.WRITE_OUTPORT, I8042Cmd.WRITE_OBUF, I8042Cmd.WRITE_AUX_OBUF, I8042Cmd.WRITE_MOUSE,
]);

/** Where the output buffer's byte came from. */
type ObSource = 'ctrl' | 'ctrl-aux' | 'kbd';
const OB_SOURCES: readonly ObSource[] = ['ctrl', 'ctrl-aux', 'kbd'];

export interface I8042Options {
  /** IRQ 1 on a PC (QEMU's kbd-irq): an IrqLine or a function of the level. */
  kbdIrq?: IrqLine | ((level: boolean) => void);
  /** IRQ 12 on a PC (QEMU's mouse-irq). */
  mouseIrq?: IrqLine | ((level: boolean) => void);
  /** The guest asked for a system reset (0xfe, or output-port bit 0 written as 0). */
  onResetRequest?: () => void;
  /** The guest wrote the A20 gate (output port bit 1, 0xdd/0xdf): QEMU's "a20" gpio-out. */
  onA20?: (enabled: boolean) => void;
}

const I8042_OPTIONS = { kbdIrq: true, mouseIrq: true, onResetRequest: true, onA20: true } as const satisfies OptionKeys<I8042Options>;

export class I8042 implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'i8042';
  readonly snapshotName = 'i8042';
  readonly dataRegion: MemoryRegion;
  readonly cmdRegion: MemoryRegion;
  /** "i8042-data" at 0x60 and "i8042-cmd" at 0x64 in the I/O space. */
  readonly mappings: readonly DeviceMapping[];
  /** The keyboard on the first port. */
  readonly kbd: Ps2Kbd;
  private readonly kbdIrq: IrqLine | null;
  private readonly mouseIrq: IrqLine | null;
  private readonly onResetRequest: () => void;
  private readonly onA20: (enabled: boolean) => void;
  private status = 0;
  private mode = 0;
  private outport = 0;
  /** the command waiting for its data byte, or 0 */
  private writeCmd = 0;
  private obdata = 0;
  private obsrc: ObSource = 'ctrl';
  /** a controller reply waiting for the output buffer (cbdata), and whether it is an aux byte */
  private pendingCtrl: { data: number; aux: boolean } | null = null;
  private kbdLevel = false;
  private mouseLevel = false;

  constructor(options?: I8042Options) {
    const opts = checkOptions(options, I8042_OPTIONS, 'new I8042()');
    this.kbdIrq = toIrqLine(opts.kbdIrq, 'i8042 kbdIrq') ?? null;
    this.mouseIrq = toIrqLine(opts.mouseIrq, 'i8042 mouseIrq') ?? null;
    for (const key of ['onResetRequest', 'onA20'] as const) {
      if (opts[key] !== undefined && typeof opts[key] !== 'function') throw new TypeError(`i8042 ${key} must be a function`);
    }
    this.onResetRequest = opts.onResetRequest ?? (() => {});
    this.onA20 = opts.onA20 ?? (() => {});
    this.kbd = new Ps2Kbd(() => this.updateOutput());
    const byteOps = (read: () => number, write: (v: number) => void): MemoryRegionOps => ({
      read: () => read(),
      write: (_offset, value) => write(Number(value & 0xffn)),
      impl: { minAccessSize: 1, maxAccessSize: 1 },
      endianness: 'little',
    });
    this.dataRegion = MemoryRegion.io('i8042-data', 1, byteOps(() => this.readData(), (v) => this.writeData(v)));
    this.cmdRegion = MemoryRegion.io('i8042-cmd', 1, byteOps(() => this.status, (v) => this.writeCommand(v)));
    this.mappings = [
      { space: 'io', address: BigInt(I8042_DATA_PORT), region: this.dataRegion },
      { space: 'io', address: BigInt(I8042_CMD_PORT), region: this.cmdRegion },
    ];
    this.reset();
  }

  /** kbd_reset and ps2_kbd_reset: status 0x18, command byte 0x03, output port RESET|A20. */
  reset(): void {
    this.mode = MODE_KBD_INT | MODE_MOUSE_INT;
    this.status = STAT_CMD | STAT_UNLOCKED;
    this.outport = OUT_RESET | OUT_A20;
    this.writeCmd = 0;
    this.obdata = 0;
    this.obsrc = 'ctrl';
    this.pendingCtrl = null;
    this.kbd.reset();
    this.updateLines();
  }

  /** Key input as the guest reads it at 0x60 (set 1 once the guest turned translation on, as SeaBIOS does); false if dropped. */
  sendKey(scancode: number | readonly number[]): boolean {
    const bytes = typeof scancode === 'number' ? [scancode] : scancode;
    if (!Array.isArray(bytes) || bytes.length === 0 || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xff)) {
      throw new TypeError('sendKey() expects a scancode byte (0-255) or a non-empty array of them');
    }
    return this.kbd.sendKey(bytes);
  }

  // ------------------------------------------------------------ ports

  /** kbd_read_data: takes the byte, lowers OBF and the IRQ, then lets the next byte in. */
  private readData(): number {
    const data = this.obdata;
    if (this.status & STAT_OBF) {
      this.status &= ~(STAT_OBF | STAT_MOUSE_OBF);
      this.updateLines(); // kbd_deassert_irq: the next byte is a new edge
      this.updateOutput();
    }
    return data;
  }

  /** kbd_write_command */
  private writeCommand(val: number): void {
    // 0xf0-0xff pulse output-port bits 0-3 low; only bit 0 (reset) does anything
    if ((val & 0xf0) === 0xf0) {
      if (!(val & 1)) this.onResetRequest();
      return;
    }
    if (DATA_COMMANDS.has(val)) {
      this.writeCmd = val;
      return;
    }
    switch (val) {
      case I8042Cmd.READ_MODE:
        this.queueCtrl(this.mode, false);
        break;
      case I8042Cmd.MOUSE_DISABLE:
        this.setMode(this.mode | MODE_DISABLE_MOUSE);
        break;
      case I8042Cmd.MOUSE_ENABLE:
        this.setMode(this.mode & ~MODE_DISABLE_MOUSE);
        break;
      case I8042Cmd.TEST_MOUSE:
      case I8042Cmd.KBD_TEST:
        this.queueCtrl(0x00, false); // no error on the clock/data lines
        break;
      case I8042Cmd.SELF_TEST:
        this.status |= STAT_SELFTEST;
        this.queueCtrl(0x55, false);
        break;
      case I8042Cmd.KBD_DISABLE:
        this.setMode(this.mode | MODE_DISABLE_KBD);
        break;
      case I8042Cmd.KBD_ENABLE:
        this.setMode(this.mode & ~MODE_DISABLE_KBD);
        break;
      case I8042Cmd.READ_INPORT:
        this.queueCtrl(0x80, false); // keyboard not inhibited
        break;
      case I8042Cmd.READ_OUTPORT:
        this.queueCtrl(this.outportValue(), false);
        break;
      case I8042Cmd.DISABLE_A20:
      case I8042Cmd.ENABLE_A20:
        this.setA20(val === I8042Cmd.ENABLE_A20);
        break;
      default:
        break; // QEMU logs "unsupported keyboard cmd" and ignores it
    }
  }

  /** kbd_write_data: the byte goes to the command waiting for it, else to the keyboard. */
  private writeData(val: number): void {
    const cmd = this.writeCmd;
    this.writeCmd = 0;
    switch (cmd) {
      case 0:
        this.kbd.write(val);
        this.setMode(this.mode & ~MODE_DISABLE_KBD); // sending to the keyboard re-enables its port
        break;
      case I8042Cmd.WRITE_MODE:
        this.kbd.setTranslation((val & MODE_KCC) !== 0);
        this.setMode(val);
        break;
      case I8042Cmd.WRITE_OBUF:
        this.queueCtrl(val, false);
        break;
      case I8042Cmd.WRITE_AUX_OBUF:
        this.queueCtrl(val, true);
        break;
      case I8042Cmd.WRITE_OUTPORT:
        this.outport = val;
        this.setA20((val & OUT_A20) !== 0);
        if (!(val & OUT_RESET)) this.onResetRequest();
        break;
      default: // WRITE_MOUSE: no mouse, the byte is dropped; the aux port is enabled as in QEMU
        this.setMode(this.mode & ~MODE_DISABLE_MOUSE);
    }
  }

  // ------------------------------------------------------------ output buffer

  private setMode(mode: number): void {
    this.mode = mode;
    this.updateOutput();
  }

  private setA20(enabled: boolean): void {
    this.outport = enabled ? this.outport | OUT_A20 : this.outport & ~OUT_A20;
    this.onA20(enabled);
  }

  /** The output port with its OBF bits from the status register. */
  private outportValue(): number {
    let v = this.outport & ~(OUT_OBF | OUT_MOUSE_OBF);
    if (this.status & STAT_OBF) v |= this.status & STAT_MOUSE_OBF ? OUT_MOUSE_OBF : OUT_OBF;
    return v;
  }

  /** kbd_queue (extended state): the reply replaces an older one still waiting. */
  private queueCtrl(data: number, aux: boolean): void {
    this.pendingCtrl = { data, aux };
    this.updateOutput();
  }

  /** kbd_safe_update_irq + kbd_update_irq: fills an empty output buffer, controller bytes first. */
  private updateOutput(): void {
    if (!(this.status & STAT_OBF)) {
      if (this.pendingCtrl !== null) {
        this.obdata = this.pendingCtrl.data;
        this.obsrc = this.pendingCtrl.aux ? 'ctrl-aux' : 'ctrl';
        this.pendingCtrl = null;
        this.status |= this.obsrc === 'ctrl-aux' ? STAT_OBF | STAT_MOUSE_OBF : STAT_OBF;
      } else if (this.kbd.hasData() && !(this.mode & MODE_DISABLE_KBD)) {
        this.obdata = this.kbd.read();
        this.obsrc = 'kbd';
        this.status |= STAT_OBF;
      }
    }
    this.updateLines();
  }

  /** kbd_update_irq_lines */
  private updateLines(): void {
    const full = (this.status & STAT_OBF) !== 0;
    const aux = (this.status & STAT_MOUSE_OBF) !== 0;
    this.setIrq('kbd', full && !aux && (this.mode & MODE_KBD_INT) !== 0);
    this.setIrq('mouse', full && aux && (this.mode & MODE_MOUSE_INT) !== 0);
  }

  private setIrq(which: 'kbd' | 'mouse', level: boolean): void {
    if (which === 'kbd') {
      if (level !== this.kbdLevel) this.kbdIrq?.set(level);
      this.kbdLevel = level;
    } else {
      if (level !== this.mouseLevel) this.mouseIrq?.set(level);
      this.mouseLevel = level;
    }
  }

  // ------------------------------------------------------------ snapshot

  saveState(): DeviceStateValue {
    return {
      status: this.status, mode: this.mode, outport: this.outport, writeCmd: this.writeCmd, obdata: this.obdata,
      obsrc: this.obsrc, pendingCtrl: this.pendingCtrl === null ? null : { ...this.pendingCtrl }, kbd: this.kbd.saveState(),
    };
  }

  loadState(state: DeviceStateValue): void {
    const name = 'i8042 state';
    const fields = ['status', 'mode', 'outport', 'writeCmd', 'obdata'].map((key) => byteStateField(state, key, 'i8042'));
    const s = state as Record<string, unknown>;
    const obsrc = stateField(state, 'obsrc', 'string', 'i8042') as ObSource;
    if (!OB_SOURCES.includes(obsrc)) throw new TypeError(`${name}: obsrc must be one of ${OB_SOURCES.join(', ')}`);
    if (fields[3] !== 0 && !DATA_COMMANDS.has(fields[3])) throw new TypeError(`${name}: writeCmd must be 0 or a command taking a data byte`);
    const p = s.pendingCtrl as { data?: unknown; aux?: unknown } | null;
    if (p !== null && (typeof p !== 'object' || !Number.isInteger(p.data) || (p.data as number) < 0 || (p.data as number) > 0xff || typeof p.aux !== 'boolean')) {
      throw new TypeError(`${name}: pendingCtrl must be null or { data: byte, aux: boolean }`);
    }
    this.kbd.loadState(s.kbd as DeviceStateValue, `${name} kbd`); // the last check: throws before anything changed
    [this.status, this.mode, this.outport, this.writeCmd, this.obdata] = fields;
    this.obsrc = obsrc;
    this.pendingCtrl = p === null ? null : { data: p.data as number, aux: p.aux as boolean };
    this.updateLines();
  }
}
