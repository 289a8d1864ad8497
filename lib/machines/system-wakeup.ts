// QEMU's suspend-to-RAM state (softmmu/runstate.c): qemu_system_suspend
// puts the machine in RUN_STATE_SUSPENDED, and qemu_system_wakeup_request
// wakes it when the reason is enabled (qemu_system_wakeup_enable, which the
// ACPI PM1 enable register drives). A request while the machine runs, or for
// a disabled reason, does nothing, as in QEMU. A wake-up that comes before
// the machine starts waiting (the alarm fired as the run ended) is kept.
import type { WakeupReason } from '../devices/acpi-pm-regs';

/** the period of the do-nothing timer of a wait without a timeout (the longest Node takes) */
const KEEP_ALIVE_MS = 2 ** 31 - 1;

export class SystemWakeup {
  private suspended = false;
  /** the reason of a wake-up nobody has waited for yet */
  private woken: WakeupReason | null = null;
  private waiter: ((reason: WakeupReason | null) => void) | null = null;
  private closed = false;

  /** `enabled(reason)`: whether that source may wake the machine now (QEMU's wakeup_reason_mask). */
  constructor(private readonly enabled: (reason: WakeupReason) => boolean) {}

  /** qemu_system_suspend: the machine sleeps until a wake-up request. */
  suspend(): void {
    this.suspended = true;
    this.woken = null;
  }

  /** qemu_system_wakeup_request: wakes a suspended machine if `reason` is enabled. */
  request(reason: WakeupReason): void {
    if (!this.suspended || !this.enabled(reason)) return;
    this.suspended = false;
    this.woken = reason;
    this.waiter?.(reason);
  }

  /**
   * Resolves with the wake-up's reason, or null when `timeoutMs` passes
   * first, `signal` aborts or the machine closes (the machine still sleeps).
   * No CPU is spent meanwhile: a timer and the wake-up source's own timer
   * are all that wait.
   */
  wait(timeoutMs: number | undefined, signal?: AbortSignal): Promise<WakeupReason | null> {
    if (this.woken !== null || this.closed || signal?.aborted) return Promise.resolve(this.take());
    return new Promise((resolve) => {
      // A sleeping machine still runs: this timer keeps Node alive while the
      // wake-up sources' own timers (the RTC's do not hold Node) wait.
      const timer = timeoutMs === undefined ? setInterval(() => undefined, KEEP_ALIVE_MS) : setTimeout(() => finish(null), timeoutMs);
      const onAbort = () => finish(null);
      const finish = (reason: WakeupReason | null) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiter = null;
        resolve(reason === null ? null : this.take());
      };
      signal?.addEventListener('abort', onAbort);
      this.waiter = finish;
    });
  }

  /** Ends a wait in progress (with null): the machine is closing. */
  close(): void {
    this.closed = true;
    this.waiter?.(null);
  }

  private take(): WakeupReason | null {
    const r = this.woken;
    this.woken = null;
    return r;
  }
}
