// QEMU's "ioport80" region (hw/i386/pc.c, pc_basic_device_init): the POST
// code port. QEMU drops writes and reads all-ones (ioport80_read); here the
// written codes are also kept, the last POST_CODE_LIMIT of them, so that a
// debug log (`-d`) can show how far the firmware got. They are a host-side
// record, not guest state: a system reset keeps them (a re-run of POST
// appends).
import { MemoryRegion } from '../memory/region';
import type { DeviceStateValue, SnapshotDevice } from '../snapshot/device-state';
import type { Device, DeviceMapping } from './device';

export const IOPORT80_PORT = 0x80;
/** How many codes postCodes() keeps. */
export const POST_CODE_LIMIT = 256;

export class Ioport80 implements Device, SnapshotDevice {
  readonly name = 'ioport80';
  readonly snapshotName = 'ioport80';
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];
  private codes: number[] = [];

  /** `onCode` (optional) sees each code as the guest writes it. */
  constructor(onCode?: (code: number) => void) {
    if (onCode !== undefined && typeof onCode !== 'function') throw new TypeError('new Ioport80(onCode): onCode must be a function (code) => void');
    this.region = MemoryRegion.io('ioport80', 1, {
      read: () => 0xff,
      write: (_offset, value) => {
        const code = Number(value & 0xffn);
        this.codes.push(code);
        if (this.codes.length > POST_CODE_LIMIT) this.codes.shift();
        onCode?.(code);
      },
      impl: { minAccessSize: 1, maxAccessSize: 1 },
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(IOPORT80_PORT), region: this.region }];
  }

  /** The codes written so far, oldest first (at most POST_CODE_LIMIT). */
  postCodes(): number[] {
    return [...this.codes];
  }

  saveState(): DeviceStateValue {
    return { codes: new Uint8Array(this.codes) };
  }

  loadState(state: DeviceStateValue): void {
    const codes = (state as Record<string, unknown> | null)?.codes;
    if (!(codes instanceof Uint8Array) || codes.length > POST_CODE_LIMIT) {
      throw new TypeError(`ioport80 state: codes must be a Uint8Array of at most ${POST_CODE_LIMIT} bytes`);
    }
    this.codes = [...codes];
  }
}
