// QEMU's isa-debug-exit: a guest write of `v` to the port (0x501 by default)
// ends the run with exit code (v << 1) | 1, so a test guest can report
// success or failure and 0 can never be mistaken for "the guest said 0".
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import type { DeviceStateValue, SnapshotDevice } from '../snapshot/device-state';
import { checkIoPort, type Device, type DeviceMapping } from './device';

export const DEBUG_EXIT_PORT = 0x501;

export interface DebugExitOptions {
  /** Called with the exit code when the guest writes the port. */
  onExit: (exitCode: number) => void;
  /** Region name in the memory map (default 'isa-debug-exit', as in QEMU). */
  name?: string;
  /** I/O port where a machine maps it (default 0x501; QEMU's iobase property). */
  iobase?: number;
}

const DEBUG_EXIT_OPTIONS = { onExit: true, name: true, iobase: true } as const satisfies OptionKeys<DebugExitOptions>;

export class DebugExit implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'isa-debug-exit';
  readonly snapshotName: string;
  /** The 2-byte I/O region (QEMU's iosize). */
  readonly region: MemoryRegion;
  /** The region at `iobase` in the I/O space, for a Machine to map. */
  readonly mappings: readonly DeviceMapping[];
  /** The last code the guest chose, or undefined. */
  lastExitCode: number | undefined;

  constructor(options: DebugExitOptions) {
    const opts = checkOptions(options, DEBUG_EXIT_OPTIONS, 'new DebugExit()');
    if (typeof opts.onExit !== 'function') throw new TypeError('DebugExit needs an onExit(exitCode) callback');
    const iobase = checkIoPort(opts.iobase ?? DEBUG_EXIT_PORT, 'debugExit iobase');
    this.snapshotName = opts.name ?? 'isa-debug-exit';
    this.region = MemoryRegion.io(this.snapshotName, 2, {
      write: (_offset, value) => {
        // QEMU passes the full (up to 32-bit) value; exit(3) keeps the low 8 bits.
        const code = Number((value << 1n) | 1n);
        this.lastExitCode = code;
        opts.onExit(code);
      },
      read: () => 0xffff_ffff,
      valid: { minAccessSize: 1, maxAccessSize: 4 },
    });
    this.mappings = [{ space: 'io', address: BigInt(iobase), region: this.region }];
  }

  saveState(): DeviceStateValue {
    return { lastExitCode: this.lastExitCode ?? null };
  }

  loadState(state: DeviceStateValue): void {
    const code = (state as Record<string, unknown> | null)?.lastExitCode;
    if (code !== null && (typeof code !== 'number' || !Number.isInteger(code))) {
      throw new TypeError('isa-debug-exit state: lastExitCode must be an integer or null');
    }
    this.lastExitCode = code ?? undefined;
  }
}
