// QEMU's i8257 (hw/dma/i8257.c): one 8237 ISA DMA controller, registers
// only. The pc machine has two (i8257_dma_init): controller 1 for channels
// 0-3 at 0x00 ("dma-chan" 0x00-0x07, "dma-cont" 0x08-0x0f, page registers
// 0x81-0x83 and 0x87) and controller 2 for channels 4-7 at 0xc0 with its
// ports spaced two apart (dshift 1: 0xc0-0xcf, 0xd0-0xdf, pages 0x89-0x8b,
// 0x8f); no high page registers. No ISA device transfers by DMA here, so a
// channel's current count never moves (QEMU's phony handler and the
// drive-less fdc's leave it too), and what a guest reads is QEMU's answer:
// the address and count through the flip-flop, the status and mask, the
// page registers. A system reset is QEMU's i8257_reset, a master clear: the
// channels' addresses, counts, modes and pages stay.
import { checkOptions, type OptionKeys } from '../options';
import { byteStateField, type DeviceStateValue, type SnapshotDevice } from '../snapshot/device-state';
import { MemoryRegion } from '../memory/region';
import type { Device, DeviceMapping } from './device';
import { bytePortioRegion } from './portio';

export interface I8257Options {
  /** The first channel port (QEMU's "base": 0x00 or 0xc0). */
  base: number;
  /** The page register block (QEMU's "page-base": 0x80 or 0x88). */
  pageBase: number;
  /** 0: 8-bit channels; 1: 16-bit channels, ports spaced by 2 (QEMU's "dshift"). */
  dshift: 0 | 1;
}

const I8257_OPTIONS = { base: true, pageBase: true, dshift: true } as const satisfies OptionKeys<I8257Options>;

/** The pc machine's two controllers (i8257_dma_init with high_page_enable 0). */
export const I8257_PC = [
  { base: 0x00, pageBase: 0x80, dshift: 0 },
  { base: 0xc0, pageBase: 0x88, dshift: 1 },
] as const satisfies readonly I8257Options[];

/** Which channel a page register (port & 7) belongs to; -1: none (channels[] in i8257.c). */
const PAGE_CHANNEL = [-1, 2, 3, 1, -1, -1, -1, 0] as const;
/** The command bits QEMU refuses (CMD_NOT_SUPPORTED: all but CMD_BLOCK_CONTROLLER). */
const CMD_NOT_SUPPORTED = 0xfb;
const ADDR = 0;
const COUNT = 1;

/** One channel's registers (I8257Regs); `now` is QEMU's int now[2], kept as it is. */
interface Channel { now: [number, number]; base: [number, number]; mode: number; page: number }

function newChannel(): Channel {
  return { now: [0, 0], base: [0, 0], mode: 0, page: 0 };
}

export class I8257 implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'i8257';
  readonly snapshotName: string;
  /** "dma-chan", "dma-page" (two runs) and "dma-cont", in QEMU's realize order. */
  readonly mappings: readonly DeviceMapping[];
  private readonly dshift: number;
  private regs: Channel[] = [newChannel(), newChannel(), newChannel(), newChannel()];
  private status = 0;
  private command = 0;
  private mask = 0;
  private flipFlop = 0;

  constructor(options: I8257Options) {
    const opts = checkOptions(options, I8257_OPTIONS, 'new I8257()');
    if (opts.dshift !== 0 && opts.dshift !== 1) throw new RangeError(`i8257 dshift must be 0 (8-bit) or 1 (16-bit), got ${String(opts.dshift)}`);
    for (const k of ['base', 'pageBase'] as const) {
      const v = opts[k];
      if (!Number.isInteger(v) || v < 0 || v > 0xffff - 0x20) throw new RangeError(`i8257 ${k} must be an I/O port up to 0xffdf, got ${String(v)}`);
    }
    this.dshift = opts.dshift;
    this.snapshotName = `i8257@${opts.base.toString(16)}`;
    const span = 8 << this.dshift;
    const byteOps = { impl: { minAccessSize: 1, maxAccessSize: 1 }, endianness: 'little' } as const;
    const chan = MemoryRegion.io('dma-chan', span, {
      ...byteOps,
      read: (offset) => this.readChan(Number(offset)),
      write: (offset, value) => this.writeChan(Number(offset), Number(value & 0xffn)),
    });
    const cont = MemoryRegion.io('dma-cont', span, {
      ...byteOps,
      read: (offset) => this.readCont(Number(offset)),
      write: (offset, value) => this.writeCont(Number(offset), Number(value & 0xffn)),
    });
    const pages = {
      read: (port: number) => this.pageOf(port)?.page ?? 0,
      write: (port: number, value: number) => {
        const r = this.pageOf(port);
        if (r !== null) r.page = value;
      },
    };
    this.mappings = [
      { space: 'io', address: BigInt(opts.base), region: chan },
      bytePortioRegion('dma-page', opts.pageBase + 1, 3, pages),
      bytePortioRegion('dma-page', opts.pageBase + 7, 1, pages),
      { space: 'io', address: BigInt(opts.base + span), region: cont },
    ];
    this.reset();
  }

  private pageOf(port: number): Channel | null {
    const ichan = PAGE_CHANNEL[port & 7];
    return ichan === -1 ? null : this.regs[ichan];
  }

  /** i8257_getff: the flip-flop before this access; every address/count access toggles it. */
  private getff(): number {
    const ff = this.flipFlop;
    this.flipFlop = ff ^ 1;
    return ff;
  }

  /** i8257_read_chan: the current address or the remaining count, low byte then high byte. */
  private readChan(offset: number): number {
    const iport = (offset >> this.dshift) & 0x0f;
    const r = this.regs[iport >> 1];
    const dir = (r.mode >> 5) & 1 ? -1 : 1;
    const ff = this.getff();
    const val = iport & 1 ? (r.base[COUNT] << this.dshift) - r.now[COUNT] : r.now[ADDR] + r.now[COUNT] * dir;
    return (val >> (this.dshift + (ff << 3))) & 0xff;
  }

  /** i8257_write_chan: the base address or count; the high byte (re)starts the channel (i8257_init_chan). */
  private writeChan(offset: number, data: number): void {
    const iport = (offset >> this.dshift) & 0x0f;
    const ichan = iport >> 1;
    const nreg = iport & 1;
    const r = this.regs[ichan];
    if (this.getff()) {
      r.base[nreg] = (r.base[nreg] & 0xff) | (data << 8);
      r.now[ADDR] = r.base[ADDR] << this.dshift;
      r.now[COUNT] = 0;
    } else {
      r.base[nreg] = (r.base[nreg] & 0xff00) | data;
    }
  }

  /** i8257_write_cont */
  private writeCont(offset: number, data: number): void {
    switch ((offset >> this.dshift) & 0x0f) {
      case 0x00: // command
        if (data === 0 || (data & CMD_NOT_SUPPORTED) === 0) this.command = data;
        break;
      case 0x01: { // request
        const ichan = data & 3;
        if (data & 4) this.status |= 1 << (ichan + 4);
        else this.status &= ~(1 << (ichan + 4));
        this.status &= ~(1 << ichan);
        break;
      }
      case 0x02: // single mask
        if (data & 4) this.mask |= 1 << (data & 3);
        else this.mask &= ~(1 << (data & 3));
        break;
      case 0x03: // mode
        this.regs[data & 3].mode = data;
        break;
      case 0x04: // clear flip-flop
        this.flipFlop = 0;
        break;
      case 0x05: // master clear
        this.masterClear();
        break;
      case 0x06: // clear mask for all channels
        this.mask = 0;
        break;
      case 0x07: // write mask for all channels
        this.mask = data;
        break;
      default: // ports 8-15 of a 16-bit controller's odd half: QEMU logs "unknown iport"
        break;
    }
  }

  /** i8257_read_cont: status (its request-done bits clear on read), mask, else 0. */
  private readCont(offset: number): number {
    switch ((offset >> this.dshift) & 0x0f) {
      case 0x00: {
        const val = this.status;
        this.status &= 0xf0;
        return val;
      }
      case 0x01:
        return this.mask;
      default:
        return 0;
    }
  }

  private masterClear(): void {
    this.flipFlop = 0;
    this.mask = 0xff;
    this.status = 0;
    this.command = 0;
  }

  /** i8257_reset: a master clear. */
  reset(): void {
    this.masterClear();
  }

  saveState(): DeviceStateValue {
    return {
      status: this.status, command: this.command, mask: this.mask, flipFlop: this.flipFlop,
      regs: this.regs.map((r) => ({ now: [...r.now], base: [...r.base], mode: r.mode, page: r.page })),
    };
  }

  loadState(state: DeviceStateValue): void {
    const what = this.snapshotName;
    const status = byteStateField(state, 'status', what);
    const command = byteStateField(state, 'command', what);
    const mask = byteStateField(state, 'mask', what);
    const flipFlop = byteStateField(state, 'flipFlop', what);
    if (flipFlop > 1) throw new RangeError(`${what} state: flipFlop must be 0 or 1`);
    const regs = (state as Record<string, unknown>).regs;
    if (!Array.isArray(regs) || regs.length !== 4) throw new TypeError(`${what} state: regs must be an array of 4 channels`);
    const pair = (v: unknown, max: number, field: string): [number, number] => {
      if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= max)) {
        throw new RangeError(`${what} state: ${field} must be two integers from 0 to ${max}`);
      }
      return [v[0] as number, v[1] as number];
    };
    const loaded = regs.map((r: DeviceStateValue, i) => ({
      now: pair((r as Record<string, unknown>)?.now, 0x1ffff, `regs[${i}].now`),
      base: pair((r as Record<string, unknown>)?.base, 0xffff, `regs[${i}].base`),
      mode: byteStateField(r, 'mode', what),
      page: byteStateField(r, 'page', what),
    }));
    this.regs = loaded;
    this.status = status;
    this.command = command;
    this.mask = mask;
    this.flipFlop = flipFlop;
  }
}
