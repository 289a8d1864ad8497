// QEMU's isa-debugcon (hw/char/debugcon.c): a one-byte port (0xe9 by
// default, 0x402 where SeaBIOS looks on QEMU) whose writes are characters
// for a log and whose reads return `readback` (0xe9), which is how firmware
// detects the port. Only byte accesses are valid, as in QEMU.
import type { Writable } from 'stream';
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import { checkIoPort, type Device, type DeviceMapping } from './device';

/** QEMU's default iobase. */
export const DEBUGCON_PORT = 0xe9;
/** QEMU's default readback. */
export const DEBUGCON_READBACK = 0xe9;

export interface DebugconOptions {
  /** Where the guest's bytes go: a Writable or a function of each byte. */
  output: Writable | ((byte: number) => void);
  /** I/O port (default 0xe9; QEMU's iobase property). */
  iobase?: number;
  /** What reads return (default 0xe9; QEMU's readback property). */
  readback?: number;
}

const DEBUGCON_OPTIONS = { output: true, iobase: true, readback: true } as const satisfies OptionKeys<DebugconOptions>;

/** No snapshot state: QEMU's debugcon has none either (no vmstate), and a reset changes nothing. */
export class Debugcon implements Device {
  /** QEMU's type name. */
  readonly name = 'isa-debugcon';
  /** "isa-debugcon", 1 byte. */
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];

  constructor(options: DebugconOptions) {
    const opts = checkOptions(options, DEBUGCON_OPTIONS, 'new Debugcon()');
    const out = opts.output;
    let emit: (byte: number) => void;
    if (typeof out === 'function') emit = out;
    else if (typeof out === 'object' && out !== null && typeof out.write === 'function') emit = (b) => out.write(Buffer.from([b]));
    else throw new TypeError('Debugcon needs output: a Writable or a function (byte) => void');
    const iobase = checkIoPort(opts.iobase ?? DEBUGCON_PORT, 'debugcon iobase');
    const readback = opts.readback ?? DEBUGCON_READBACK;
    if (!Number.isInteger(readback) || readback < 0 || readback > 0xff) throw new RangeError(`debugcon readback must be a byte (0-255), got ${String(readback)}`);
    this.region = MemoryRegion.io('isa-debugcon', 1, {
      read: () => readback,
      write: (_offset, value) => emit(Number(value & 0xffn)),
      valid: { minAccessSize: 1, maxAccessSize: 1 },
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(iobase), region: this.region }];
  }
}
