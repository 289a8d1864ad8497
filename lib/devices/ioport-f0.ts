// QEMU's "ioportF0" region (hw/i386/pc.c, pc_basic_device_init): the
// coprocessor-error port of the PC/AT's MS-DOS compatible FPU error
// handling. A write lowers FERR (ISA IRQ 13): QEMU's ioportF0_write, which
// does it through cpu_set_ignne under TCG only, since under KVM nothing ever
// raises FERR; lowering a low line is no change, so doing it always is the
// same to a guest. Reads give all ones (ioportF0_read). No state.
import { MemoryRegion } from '../memory/region';
import type { Device, DeviceMapping } from './device';
import { toIrqLine, type IrqLine } from './irq-line';

export const IOPORT_F0_PORT = 0xf0;
/** The ISA IRQ of FERR (x86_register_ferr_irq(gsi[13])). */
export const FERR_IRQ = 13;

export class IoportF0 implements Device {
  readonly name = 'ioportF0';
  /** "ioportF0", 1 byte. */
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];

  /** `ferr`: the FERR line (ISA IRQ 13 on the pc machine). */
  constructor(ferr: IrqLine | ((level: boolean) => void)) {
    const line = toIrqLine(ferr, 'new IoportF0(ferr)');
    if (line === undefined) throw new TypeError('new IoportF0(ferr): ferr is required (the FERR line, ISA IRQ 13 on the pc machine)');
    this.region = MemoryRegion.io('ioportF0', 1, {
      read: () => -1,
      write: () => line.set(false),
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(IOPORT_F0_PORT), region: this.region }];
  }
}
