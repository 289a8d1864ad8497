// A run's options and their checks, shared by the two run drivers (RunLoop
// for one vCPU on the JavaScript thread, SmpRunLoop for several on their
// threads), and what both offer the Machine.
import type { RunResult, StopRequest } from './run-loop';

const now = (): number => performance.now();

export interface RunOptions {
  /** Stop after this many milliseconds of wall time (reason `timeout`). */
  timeoutMs?: number;
  /** Stop after this many exits (reason `maxExits`). */
  maxExits?: number;
  /** Called with one line per exit (slow; for --trace). */
  trace?: (line: string) => void;
}

export interface AsyncRunOptions extends RunOptions {
  /** Longest stretch the vCPU runs before letting the event loop turn (default 20 ms). */
  sliceMs?: number;
}

/** A run's limits, from checked RunOptions. */
export interface RunLimits { deadline: number; maxExits: number; start: number }

/** Checks run options (shared by both run drivers) and starts the clock. */
export function checkRunOptions(opts: RunOptions): RunLimits {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('run options must be an object');
  const { timeoutMs, maxExits } = opts;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
    throw new RangeError(`timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`);
  }
  if (maxExits !== undefined && (typeof maxExits !== 'number' || !Number.isInteger(maxExits) || maxExits < 1)) {
    throw new RangeError(`maxExits must be a positive integer, got ${String(maxExits)}`);
  }
  if (opts.trace !== undefined && typeof opts.trace !== 'function') throw new TypeError('trace must be a function');
  const start = now();
  return { start, deadline: timeoutMs === undefined ? Infinity : start + timeoutMs, maxExits: maxExits ?? Infinity };
}

/** Checks AsyncRunOptions.sliceMs; returns it (default 20 ms). */
export function checkSliceMs(opts: AsyncRunOptions): number {
  const slice = opts.sliceMs ?? 20;
  if (typeof slice !== 'number' || !(slice > 0)) throw new RangeError('sliceMs must be a positive number');
  return slice;
}

/** What runs a machine's vCPUs: a RunLoop for one, an SmpRunLoop (smp-run-loop.ts) for several. */
export interface VcpuRunner {
  run(opts?: RunOptions): RunResult;
  runAsync(opts?: AsyncRunOptions): Promise<RunResult>;
  requestStop(req: StopRequest): void;
  discardStopRequest(): void;
}
