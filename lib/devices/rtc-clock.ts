// The time source of the mc146818 RTC: QEMU's rtc_clock (the host's
// wall clock with `-rtc base=utc`, the default) and one-shot timers on it.
// Tests inject a clock they advance by hand.

import { atProcessStart } from '../util/process-start';

export interface RtcClock {
  /** Host time in nanoseconds since the Unix epoch. */
  now(): bigint;
  /** Calls `callback` once, at or soon after host time `deadlineNs`; returns a function that cancels it. */
  setTimer(deadlineNs: bigint, callback: () => void): () => void;
}

// Wall-clock time at process start plus a monotonic offset: nanosecond resolution (the
// UIP window is 244 µs wide) and no steps backwards while the process runs.
let epochAtStartNs = 0n;
atProcessStart(() => { epochAtStartNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint(); });

/** The host's clock, with timers that do not keep Node alive. */
export const hostRtcClock: RtcClock = {
  now: () => epochAtStartNs + process.hrtime.bigint(),
  setTimer(deadlineNs, callback) {
    const ms = Number((deadlineNs - hostRtcClock.now() + 999_999n) / 1_000_000n);
    const t = setTimeout(callback, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};
