// A 16550A-compatible UART (the PC's COM1 at 0x3f8 by default): enough for a
// guest driver that polls LSR or uses interrupts. Output goes to a Node
// Writable, input comes from a Node Readable. Transmission is instant, so
// THR is always empty (LSR.THRE|TEMT) and a THR-empty interrupt fires as soon
// as it is enabled or a byte is written.
import type { Readable, Writable } from 'stream';
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import { byteStateField, type DeviceStateValue, type SnapshotDevice, stateField } from '../snapshot/device-state';
import { checkIoPort, type Device, type DeviceMapping } from './device';
import { type IrqLine, toIrqLine } from './irq-line';

// Register offsets (DLAB=0 unless noted).
const RBR_THR = 0; // DLL when DLAB=1
const IER = 1; // DLM when DLAB=1
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const LCR_DLAB = 0x80;
const IER_RDI = 0x01; // received data available
const IER_THRI = 0x02; // transmitter holding register empty
const IER_RLSI = 0x04; // receiver line status
const MCR_OUT2 = 0x08; // gates the IRQ line on PCs
const MCR_LOOP = 0x10;
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const IIR_NONE = 0x01;
const IIR_RLSI = 0x06;
const IIR_RDI = 0x04;
const IIR_THRI = 0x02;
const IIR_FIFO = 0xc0;

/** QEMU's isa-serial iobase for COM1. */
export const COM1_PORT = 0x3f8;

/** Receive FIFO limit; beyond it the input stream is paused (backpressure). */
const RX_HIGH_WATER = 4096;

export interface Serial16550AOptions {
  /** Where transmitted bytes go (null: dropped). */
  output?: Writable | null;
  /** Where received bytes come from (null: nothing is ever received). */
  input?: Readable | null;
  /**
   * The interrupt output: an IrqLine (kvmIrqLine(), callbackIrqLine()), or a
   * function called with the line's level when it changes.
   */
  irq?: IrqLine | ((level: boolean) => void);
  /** Region name in the memory map (default 'serial'). */
  name?: string;
  /** I/O port base where a machine maps it (default 0x3f8, COM1; QEMU's iobase property). */
  iobase?: number;
}

const SERIAL_OPTIONS = { output: true, input: true, irq: true, name: true, iobase: true } as const satisfies OptionKeys<Serial16550AOptions>;

export class Serial16550A implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'isa-serial';
  readonly snapshotName: string;
  /** The 8-byte I/O region; map it in the I/O address space (e.g. at 0x3f8). */
  readonly region: MemoryRegion;
  /** The region at `iobase` in the I/O space, for a Machine to map. */
  readonly mappings: readonly DeviceMapping[];
  private ier = 0;
  private lcr = 0x03; // 8N1
  private mcr = 0;
  private scr = 0;
  private dll = 0x0c; // 9600 baud
  private dlm = 0;
  private fcr = 0;
  private overrun = false;
  private thrPending = false;
  private irqLevel = false;
  private rx: number[] = [];
  private rxHead = 0;
  private out: number[] = [];
  private flushScheduled = false;
  private readonly output: Writable | null;
  private readonly input: Readable | null;
  private readonly irq: IrqLine | undefined;
  private readonly onData = (chunk: Buffer | string): void => this.receive(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);

  constructor(options?: Serial16550AOptions) {
    const opts = checkOptions(options, SERIAL_OPTIONS, 'new Serial16550A()');
    this.output = opts.output ?? null;
    this.input = opts.input ?? null;
    this.irq = toIrqLine(opts.irq, 'serial irq');
    const iobase = checkIoPort(opts.iobase ?? COM1_PORT, 'serial iobase');
    if (this.output !== null && typeof this.output.write !== 'function') throw new TypeError('serial output must be a Writable stream');
    if (this.input !== null && typeof this.input.on !== 'function') throw new TypeError('serial input must be a Readable stream');
    this.snapshotName = opts.name ?? 'serial';
    this.region = MemoryRegion.io(this.snapshotName, 8, {
      read: (offset) => this.read(Number(offset)),
      write: (offset, value) => this.write(Number(offset), Number(value)),
      valid: { minAccessSize: 1, maxAccessSize: 1 },
      impl: { minAccessSize: 1, maxAccessSize: 1 },
    });
    this.mappings = [{ space: 'io', address: BigInt(iobase), region: this.region }];
    this.input?.on('data', this.onData);
  }

  /** Bytes as if they arrived on the line (also what the input stream feeds). */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (this.rxCount() >= RX_HIGH_WATER * 4) {
        this.overrun = true;
        break;
      }
      this.rx.push(b);
    }
    if (this.input && this.rxCount() >= RX_HIGH_WATER) this.input.pause();
    this.updateIrq();
  }

  /**
   * Registers and the bytes received but not yet read. Output already sent is
   * not state: it was flushed to the stream.
   */
  saveState(): DeviceStateValue {
    this.flush();
    return {
      ier: this.ier, lcr: this.lcr, mcr: this.mcr, scr: this.scr, dll: this.dll, dlm: this.dlm, fcr: this.fcr,
      overrun: this.overrun, thrPending: this.thrPending,
      rx: Uint8Array.from(this.rx.slice(this.rxHead)),
    };
  }

  loadState(state: DeviceStateValue): void {
    const name = `serial "${this.snapshotName}"`;
    const byte = (key: string) => byteStateField(state, key, name);
    const regs = { ier: byte('ier'), lcr: byte('lcr'), mcr: byte('mcr'), scr: byte('scr'), dll: byte('dll'), dlm: byte('dlm'), fcr: byte('fcr') };
    const overrun = stateField(state, 'overrun', 'boolean', name);
    const thrPending = stateField(state, 'thrPending', 'boolean', name);
    const rx = (state as Record<string, unknown>).rx;
    if (!(rx instanceof Uint8Array)) throw new TypeError(`${name} state: rx must be a Uint8Array`);
    // Everything checked: now change the device.
    this.ier = regs.ier;
    this.lcr = regs.lcr;
    this.mcr = regs.mcr;
    this.scr = regs.scr;
    this.dll = regs.dll;
    this.dlm = regs.dlm;
    this.fcr = regs.fcr;
    this.overrun = overrun;
    this.thrPending = thrPending;
    this.rx = Array.from(rx);
    this.rxHead = 0;
    this.updateIrq();
  }

  private rxCount(): number {
    return this.rx.length - this.rxHead;
  }

  private read(reg: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (reg) {
      case RBR_THR: {
        if (dlab) return this.dll;
        if (this.rxCount() === 0) return 0;
        const b = this.rx[this.rxHead++];
        if (this.rxHead > 1024 && this.rxHead * 2 > this.rx.length) {
          this.rx = this.rx.slice(this.rxHead);
          this.rxHead = 0;
        }
        if (this.input && this.input.isPaused() && this.rxCount() < RX_HIGH_WATER / 2) this.input.resume();
        this.updateIrq();
        return b;
      }
      case IER:
        return dlab ? this.dlm : this.ier;
      case IIR_FCR: {
        const id = this.interruptId();
        // Reading IIR while it reports THR empty acknowledges that interrupt.
        if (id === IIR_THRI) {
          this.thrPending = false;
          this.updateIrq();
        }
        return id | (this.fcr & 1 ? IIR_FIFO : 0);
      }
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR: {
        const v = LSR_THRE | LSR_TEMT | (this.rxCount() > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0);
        this.overrun = false; // LSR error bits clear on read
        this.updateIrq();
        return v;
      }
      case MSR:
        // In loopback the modem inputs follow MCR: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        if (this.mcr & MCR_LOOP) return ((this.mcr & 0x01) << 5) | ((this.mcr & 0x02) << 3) | ((this.mcr & 0x04) << 4) | ((this.mcr & 0x08) << 4);
        return 0xb0; // DCD, DSR, CTS asserted: a cable is attached
      case SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  private write(reg: number, value: number): void {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (reg) {
      case RBR_THR:
        if (dlab) {
          this.dll = value;
        } else {
          this.transmit(value);
        }
        return;
      case IER:
        if (dlab) {
          this.dlm = value;
          return;
        }
        // Enabling the THR-empty interrupt while THR is empty raises it at once.
        if (value & IER_THRI && !(this.ier & IER_THRI)) this.thrPending = true;
        this.ier = value & 0x0f;
        this.updateIrq();
        return;
      case IIR_FCR:
        if (value & 0x02) { // clear receive FIFO
          this.rx = [];
          this.rxHead = 0;
        }
        this.fcr = value & 0xc9;
        this.updateIrq();
        return;
      case LCR:
        this.lcr = value;
        return;
      case MCR:
        this.mcr = value & 0x1f;
        this.updateIrq();
        return;
      case SCR:
        this.scr = value;
        return;
      default:
        // LSR and MSR are read-only
    }
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) {
      this.receive(Uint8Array.of(byte));
    } else if (this.output !== null) {
      this.out.push(byte);
      if (byte === 0x0a || this.out.length >= 1024) this.flush();
      else if (!this.flushScheduled) {
        // Flush when the event loop next turns (between run slices or after the run).
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    }
    this.thrPending = (this.ier & IER_THRI) !== 0;
    this.updateIrq();
  }

  private interruptId(): number {
    if (this.ier & IER_RLSI && this.overrun) return IIR_RLSI;
    if (this.ier & IER_RDI && this.rxCount() > 0) return IIR_RDI;
    if (this.ier & IER_THRI && this.thrPending) return IIR_THRI;
    return IIR_NONE;
  }

  private updateIrq(): void {
    if (!this.irq) return;
    const level = this.interruptId() !== IIR_NONE && (this.mcr & MCR_OUT2) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  /** Writes buffered output to the stream now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.output === null) return;
    const bytes = Buffer.from(this.out);
    this.out = [];
    this.output.write(bytes);
  }

  /** Flushes output and stops listening to the input stream. */
  close(): void {
    this.flush();
    this.input?.off('data', this.onData);
  }
}
