// QEMU's ps2-kbd (hw/input/ps2.c): the PS/2 keyboard behind the i8042. It
// answers the commands a BIOS or an OS driver sends (reset 0xff -> ACK + BAT
// 0xaa, ID 0xf2 -> ACK 0xab 0x83, LEDs 0xed, scancode set 0xf0, scanning
// 0xf4/0xf5/0xf6, ...) through a 16-byte output queue, as QEMU's ps2 queue.
// It is not a Device of its own: the i8042 owns it, pulls its bytes into the
// controller's output buffer and saves its state with its own.
import type { DeviceStateValue } from '../snapshot/device-state';

/** PS2_QUEUE_SIZE */
export const PS2_QUEUE_SIZE = 16;
/** Free room PS2_QUEUE_HEADROOM that command replies keep: input keys are dropped when less is free. */
const PS2_QUEUE_HEADROOM = 8;

const KBD_REPLY_ACK = 0xfa;
const KBD_REPLY_POR = 0xaa;
const KBD_REPLY_ID = 0xab;
const KBD_REPLY_RESEND = 0xfe;
const KBD_CMD_SET_LEDS = 0xed;
const KBD_CMD_ECHO = 0xee;
const KBD_CMD_SCANCODE = 0xf0;
const KBD_CMD_GET_ID = 0xf2;
const KBD_CMD_SET_RATE = 0xf3;
const KBD_CMD_ENABLE = 0xf4;
const KBD_CMD_RESET_DISABLE = 0xf5;
const KBD_CMD_RESET_ENABLE = 0xf6;
const KBD_CMD_SET_TYPEMATIC = 0xfa;
const KBD_CMD_SET_MAKE_BREAK = 0xfc;
const KBD_CMD_RESET = 0xff;
/** The scancode set numbers as the i8042 translates them (ps2.c translate_table[1..3]). */
const TRANSLATED_SET_ID = [0, 0x43, 0x41, 0x3f];

/** The commands that take a parameter byte next. */
const PARAM_COMMANDS = new Set([KBD_CMD_SCANCODE, KBD_CMD_SET_LEDS, KBD_CMD_SET_RATE, KBD_CMD_SET_MAKE_BREAK]);

export class Ps2Kbd {
  /** QEMU's type name. */
  readonly name = 'ps2-kbd';
  private queue: number[] = [];
  /** what a read of an empty queue returns: the last byte read (QEMU keeps it for EMM386) */
  private lastByte = 0;
  /** the command whose parameter byte comes next, or -1 */
  private writeCmd = -1;
  private scanEnabled = true;
  private scancodeSet = 2;
  /** the i8042's translation (command byte bit 6), which changes the ID and set replies */
  private translate = false;
  private ledState = 0;

  /** `onData` is called when the queue goes from empty to non-empty (the keyboard's "irq"). */
  constructor(private readonly onData: () => void) {}

  /** ps2_kbd_reset: the device's power-on state. */
  reset(): void {
    this.writeCmd = -1;
    this.queue = [];
    this.lastByte = 0;
    this.scanEnabled = true;
    this.translate = false;
    this.scancodeSet = 2;
    this.ledState = 0;
  }

  hasData(): boolean {
    return this.queue.length > 0;
  }

  /** The LEDs the guest set (bit 0 scroll, 1 num, 2 caps lock). */
  leds(): number {
    return this.ledState;
  }

  /** ps2_read_data: the next byte; an empty queue repeats the last one. */
  read(): number {
    const b = this.queue.shift();
    if (b !== undefined) this.lastByte = b;
    return this.lastByte;
  }

  /** ps2_keyboard_set_translation */
  setTranslation(on: boolean): void {
    this.translate = on;
  }

  /** Key input: bytes as the guest reads them; dropped while scanning is off or the queue is nearly full. */
  sendKey(bytes: readonly number[]): boolean {
    if (!this.scanEnabled || PS2_QUEUE_SIZE - this.queue.length < PS2_QUEUE_HEADROOM + bytes.length) return false;
    this.push(...bytes);
    return true;
  }

  /** ps2_write_keyboard: a byte the guest sent to the keyboard. */
  write(val: number): void {
    const cmd = this.writeCmd;
    this.writeCmd = -1;
    switch (cmd) {
      case -1:
        this.command(val);
        return;
      case KBD_CMD_SCANCODE:
        if (val === 0) {
          this.push(KBD_REPLY_ACK, this.translate ? TRANSLATED_SET_ID[this.scancodeSet] : this.scancodeSet);
        } else if (val >= 1 && val <= 3) {
          this.scancodeSet = val;
          this.push(KBD_REPLY_ACK);
        } else {
          this.push(KBD_REPLY_RESEND);
        }
        return;
      case KBD_CMD_SET_LEDS:
        this.ledState = val;
        this.push(KBD_REPLY_ACK);
        return;
      default: // SET_RATE, SET_MAKE_BREAK: acknowledged, nothing to keep
        this.push(KBD_REPLY_ACK);
    }
  }

  private command(val: number): void {
    if (PARAM_COMMANDS.has(val)) {
      this.writeCmd = val;
      this.push(KBD_REPLY_ACK);
      return;
    }
    switch (val) {
      case 0x00:
      case KBD_CMD_SET_TYPEMATIC:
        this.push(KBD_REPLY_ACK);
        break;
      case 0x05:
        this.push(KBD_REPLY_RESEND);
        break;
      case KBD_CMD_GET_ID:
        this.push(KBD_REPLY_ACK, KBD_REPLY_ID, this.translate ? 0x41 : 0x83);
        break;
      case KBD_CMD_ECHO:
        this.push(KBD_CMD_ECHO);
        break;
      case KBD_CMD_ENABLE:
        this.scanEnabled = true;
        this.push(KBD_REPLY_ACK);
        break;
      case KBD_CMD_RESET_DISABLE:
      case KBD_CMD_RESET_ENABLE:
        this.resetKeyboard();
        this.scanEnabled = val === KBD_CMD_RESET_ENABLE;
        this.push(KBD_REPLY_ACK);
        break;
      case KBD_CMD_RESET:
        this.resetKeyboard();
        this.push(KBD_REPLY_ACK, KBD_REPLY_POR);
        break;
      default:
        this.push(KBD_REPLY_RESEND);
    }
  }

  /** ps2_reset_keyboard: what the keyboard's own reset commands reset (not the translation). */
  private resetKeyboard(): void {
    this.scanEnabled = true;
    this.scancodeSet = 2;
    this.queue = [];
    this.ledState = 0;
  }

  /** ps2_queue: bytes beyond PS2_QUEUE_SIZE are dropped. */
  private push(...bytes: number[]): void {
    const wasEmpty = this.queue.length === 0;
    for (const b of bytes) if (this.queue.length < PS2_QUEUE_SIZE) this.queue.push(b);
    if (wasEmpty && this.queue.length > 0) this.onData();
  }

  saveState(): DeviceStateValue {
    return {
      queue: [...this.queue], lastByte: this.lastByte, writeCmd: this.writeCmd, scanEnabled: this.scanEnabled,
      scancodeSet: this.scancodeSet, translate: this.translate, ledState: this.ledState,
    };
  }

  /** Checks everything first, then takes it (throws without changing anything). */
  loadState(state: DeviceStateValue, where: string): void {
    const s = (typeof state === 'object' && state !== null && !Array.isArray(state) ? state : {}) as Record<string, unknown>;
    const byte = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xff;
    if (!Array.isArray(s.queue) || s.queue.length > PS2_QUEUE_SIZE || !s.queue.every(byte)) {
      throw new TypeError(`${where}: queue must be an array of at most ${PS2_QUEUE_SIZE} bytes`);
    }
    if (!byte(s.lastByte) || !byte(s.ledState)) throw new TypeError(`${where}: lastByte and ledState must be bytes`);
    if (s.writeCmd !== -1 && !PARAM_COMMANDS.has(s.writeCmd as number)) throw new TypeError(`${where}: writeCmd must be -1 or a command taking a parameter`);
    if (typeof s.scanEnabled !== 'boolean' || typeof s.translate !== 'boolean') throw new TypeError(`${where}: scanEnabled and translate must be booleans`);
    if (![1, 2, 3].includes(s.scancodeSet as number)) throw new TypeError(`${where}: scancodeSet must be 1, 2 or 3`);
    this.queue = [...(s.queue as number[])];
    this.lastByte = s.lastByte as number;
    this.writeCmd = s.writeCmd as number;
    this.scanEnabled = s.scanEnabled;
    this.scancodeSet = s.scancodeSet as number;
    this.translate = s.translate;
    this.ledState = s.ledState as number;
  }
}
