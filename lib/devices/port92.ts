// QEMU's port92 (hw/i386/port92.c): the PS/2 "system control port A" at 0x92.
// Bit 1 is the fast A20 gate (QEMU's "a20" gpio-out), bit 0 a fast reset: a
// write that sets it when it was clear requests a system reset. Reads return
// the byte last written. A system reset clears bit 0 only, so A20 stays as
// the guest left it (port92_reset).
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import { byteStateField, type DeviceStateValue, type SnapshotDevice } from '../snapshot/device-state';
import type { Device, DeviceMapping } from './device';

/** Where the pc machine maps "port92". */
export const PORT92_PORT = 0x92;
const PORT92_RESET = 0x01;
const PORT92_A20 = 0x02;

export interface Port92Options {
  /** The guest wrote bit 1 (called on every write, with the new level, as QEMU's qemu_set_irq). */
  onA20?: (enabled: boolean) => void;
  /** The guest set bit 0: a system reset (SHUTDOWN_CAUSE_GUEST_RESET). */
  onResetRequest?: () => void;
}

const PORT92_OPTIONS = { onA20: true, onResetRequest: true } as const satisfies OptionKeys<Port92Options>;

export class Port92 implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'port92';
  readonly snapshotName = 'port92';
  /** "port92", 1 byte. */
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];
  private outport = 0;

  constructor(options?: Port92Options) {
    const opts = checkOptions(options, PORT92_OPTIONS, 'new Port92()');
    for (const key of ['onResetRequest', 'onA20'] as const) {
      if (opts[key] !== undefined && typeof opts[key] !== 'function') throw new TypeError(`port92 ${key} must be a function`);
    }
    this.region = MemoryRegion.io('port92', 1, {
      read: () => this.outport,
      write: (_offset, value) => {
        const val = Number(value & 0xffn);
        const old = this.outport;
        this.outport = val;
        opts.onA20?.((val & PORT92_A20) !== 0);
        if (val & PORT92_RESET && !(old & PORT92_RESET)) opts.onResetRequest?.();
      },
      impl: { minAccessSize: 1, maxAccessSize: 1 },
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(PORT92_PORT), region: this.region }];
  }

  /** Whether the guest's A20 gate through this port is on. */
  a20(): boolean {
    return (this.outport & PORT92_A20) !== 0;
  }

  /** port92_reset: only the reset bit goes. */
  reset(): void {
    this.outport &= ~PORT92_RESET;
  }

  saveState(): DeviceStateValue {
    return { outport: this.outport };
  }

  loadState(state: DeviceStateValue): void {
    this.outport = byteStateField(state, 'outport', 'port92');
  }
}
