// Deadlines as performance.now() times: what is left of one, for a call that takes a timeout.

/**
 * Milliseconds left until `deadline` (performance.now() time); undefined
 * stays undefined. Never 0: a deadline that has passed leaves the smallest
 * positive time, so the run it is given to ends at once with reason
 * 'timeout' (a run loop refuses a timeoutMs of 0 as bad input).
 */
export function remaining(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : Math.max(Number.MIN_VALUE, deadline - performance.now());
}

/**
 * The deadline `timeoutMs` from now (undefined: none), for a machine's run().
 * 0 is allowed and means "no time": the run returns at its first chance
 * ('timeout', or 'suspend' for a sleeping machine).
 */
export function deadlineAfter(timeoutMs: unknown): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw new RangeError(`timeoutMs must be a positive number of milliseconds (or 0), got ${String(timeoutMs)}`);
  }
  return performance.now() + timeoutMs;
}
