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
