// A machine asleep in ACPI S3 (QEMU's RUN_STATE_SUSPENDED): the run result
// that suspended it, and the wait for the board's wake-up event, which uses
// timers only (no CPU) and ends early on stop() or close().
import type { RunResult } from './kvm/run-loop';
import type { SuspendHooks } from './machines/board';

export class MachineSleep {
  /** The run result that suspended the machine, while it sleeps. */
  private suspended: RunResult | null = null;
  private waiting: AbortController | null = null;

  constructor(private readonly hooks: SuspendHooks | undefined) {}

  get asleep(): boolean {
    return this.suspended !== null;
  }

  /** After a run: true when it ended by ACPI S3 on a board that can wake up (the machine now sleeps). */
  suspendAfter(result: RunResult): boolean {
    if (result.reason !== 'suspend' || this.hooks === undefined) return false;
    this.suspended = result;
    return true;
  }

  /** A system reset or a snapshot restore: the machine is awake (the firmware resumes it if CMOS says so). */
  clear(): void {
    this.suspended = null;
  }

  /**
   * Waits at most `timeoutMs` (undefined: for ever) for the wake-up, then
   * calls `reset` (qemu_system_wakeup: a system reset that keeps RAM and the
   * CMOS resume flag) and the board's wake-up steps (PM1 WAK_STS). False when
   * the time passes, interrupt() is called, or `closed()` becomes true first.
   */
  async wakeUp(timeoutMs: number | undefined, closed: () => boolean, reset: () => void): Promise<boolean> {
    const hooks = this.hooks!;
    this.waiting = new AbortController();
    let reason: Awaited<ReturnType<SuspendHooks['waitForWakeup']>>;
    try {
      reason = await hooks.waitForWakeup(timeoutMs, this.waiting.signal);
    } finally {
      this.waiting = null;
    }
    if (reason === null || closed()) return false;
    reset();
    hooks.afterWakeup(reason);
    return true;
  }

  /** Ends a wait for the wake-up (stop(), close()); false when none is in progress. */
  interrupt(): boolean {
    if (this.waiting === null) return false;
    this.waiting.abort();
    return true;
  }

  /** The result of a run that found the machine asleep and left it so. */
  stillAsleep(elapsedMs: number, note: string): RunResult {
    return { ...this.suspended!, exits: 0, elapsedMs, message: `${this.suspended!.message}; ${note}` };
  }
}
