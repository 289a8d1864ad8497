// What a run reports: why it stopped (RunResult, StopReason), what a device
// may ask for (StopRequest), and the error a throwing device callback becomes
// (DeviceError). Shared by the one-vCPU RunLoop, the SmpRunLoop and the
// debug engine.
import { hex } from '../util/hex';
import type { VcpuExit } from './exits';
import type { GuestException } from './guest-exception';

export type StopReason =
  | 'hlt' | 'shutdown' | 'exception' | 'debugExit' | 'timeout' | 'maxExits' | 'stopped' | 'reset' | 'poweroff' | 'suspend'
  | 'internalError' | 'failEntry' | 'systemEvent' | 'debug' | 'unknown';

export interface RunResult extends Partial<GuestException> {
  /** `exception`: a guest without a usable IDT faulted (vector, errorCode, cr2; lib/kvm/guest-exception.ts) */
  reason: StopReason;
  /** Exits handled during this run (I/O, MMIO and the final one; kicks not counted). */
  exits: number;
  /** Guest RIP when the run stopped. */
  rip: bigint;
  /** For `debugExit`: the code the guest chose, `(value << 1) | 1`. */
  exitCode?: number;
  /** One line (or a short paragraph for failures) saying what happened. */
  message: string;
  /** The raw exit for internalError/failEntry/systemEvent/debug/unknown. */
  exit?: VcpuExit;
  elapsedMs: number;
  /** With several vCPUs: the index of the vCPU whose exit (or stop) ended the run. */
  cpu?: number;
}

/** What a device asks for when it ends the run (e.g. the debug-exit port). */
export type StopRequest =
  | { reason: 'debugExit'; exitCode: number }
  | { reason: 'stopped'; message?: string }
  /** the guest asked for a system reset (a board reboots unless -no-reboot) */
  | { reason: 'reset'; message: string }
  /** the guest powered the machine off (ACPI S5) */
  | { reason: 'poweroff'; message: string }
  /** the guest suspended the machine to RAM (ACPI S3): a board with wake-up sources sleeps until one fires */
  | { reason: 'suspend'; message: string };

/** A device callback threw while handling a guest access. */
export class DeviceError extends Error {
  constructor(
    readonly device: string,
    readonly space: 'io' | 'memory',
    readonly address: bigint,
    readonly isWrite: boolean,
    readonly size: number,
    readonly rip: bigint,
    override readonly cause: unknown,
  ) {
    const where = `${space === 'io' ? 'port' : 'address'} ${hex(address)}`;
    const what = cause instanceof Error ? cause.message : String(cause);
    super(`device "${device}" threw on a ${size}-byte ${isWrite ? 'write' : 'read'} at ${where} (guest RIP ${hex(rip)}): ${what}`);
    this.name = 'DeviceError';
  }
}
