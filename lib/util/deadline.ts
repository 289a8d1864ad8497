// Deadlines as performance.now() times: what is left of one, for a call that takes a timeout.

/** Milliseconds left until `deadline` (performance.now() time), at least 0; undefined stays undefined. */
export function remaining(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
}
