// The run driver for several vCPUs: each runs KVM_RUN on its own native
// thread (VcpuThread), and the exits that need a device come, in order,
// through one VcpuExitQueue to the JavaScript thread, which handles them one
// at a time with each vCPU's RunLoop (handleExit: the same dispatch as with
// one vCPU). The JavaScript thread is QEMU's big lock: a device never sees
// two accesses at once, and a vCPU waits only while its own exit is handled.
//
// Between slices (runAsync) every vCPU is stopped while the event loop turns.
// A run ends for the machine, not for one vCPU: a guest shutdown, a device's
// stop request (debug-exit, reset, power-off, suspend), a device error, a KVM
// failure, the timeout or maxExits stop every vCPU; without an in-kernel
// IRQ chip a vCPU that executes hlt waits until all have (reason 'hlt').
// Before run() returns every vCPU is out of KVM_RUN with its last I/O
// instruction finished, so registers, snapshots and resets work on all.
// An exit a vCPU takes while it is being stopped (the kick came too late) is
// the guest's and is handled as in a slice: I/O and MMIO are dispatched, a
// hlt halts the vCPU, any other ends the run (a run that was ending for its
// timeout or maxExits reports it instead; one ending for another reason
// leaves it to the next run, which returns it before resuming anything).
import { translateNativeError } from '../errors';
import { exitNumber, type RunLoop, type RunResult, type StopRequest } from './run-loop';
import { checkRunOptions, checkSliceMs, type AsyncRunOptions, type RunLimits, type RunOptions, type VcpuRunner } from './run-options';
import { RESUMED_AT_DEADLINE, takenIndex, takenReason, VcpuExitQueue, type VcpuExitQueueStats } from './vcpu-exit-queue';
import { threadStops, VcpuThread, type VcpuThreadStats } from './vcpu-thread';

const now = (): number => performance.now();
/** Exits a stopping vCPU may take to finish its I/O instruction (RunLoop's completePendingIo allows as many). */
const FINISH_IO_EXITS = 64;
/** The longest single wait for an exit (a run without timeout waits in such steps). */
const MAX_WAIT_MS = 1000;
/** A slice with no more than this left (ms) ends: not worth a wait. */
const SLICE_END_MS = 0.05;

/** Why the machine's run ends, decided while vCPUs may still run; made into a RunResult once all are stopped. */
type Ending =
  | { kind: 'result'; result: RunResult; cpu: number }
  | { kind: 'limit'; reason: 'timeout' | 'maxExits' }
  | { kind: 'stop'; request: StopRequest; cpu: number }
  | { kind: 'closed' };

export class SmpRunLoop implements VcpuRunner {
  private readonly queue: VcpuExitQueue;
  /**
   * One per vCPU, started with the machine (idle until a run), as QEMU's
   * vCPU threads are: `info cpus` shows their ids from the start.
   */
  private readonly threads: VcpuThread[];
  /** vCPUs resumed whose exit has not been taken from the queue yet. */
  private readonly inRun: boolean[];
  /** vCPUs stopped at hlt (no in-kernel IRQ chip): not resumed until the next run. */
  private readonly halted: boolean[];
  private readonly EXIT_INTR = exitNumber('INTR');
  private stopRequest: StopRequest | null = null;
  private running = false;
  private exits = 0;
  /** threadStops() when this loop last looked for a stopped thread of its own. */
  private stopsSeen = threadStops();

  constructor(private readonly loops: readonly RunLoop[]) {
    this.queue = new VcpuExitQueue(loops.length);
    this.inRun = loops.map(() => false);
    this.halted = loops.map(() => false);
    this.threads = [];
    try {
      for (const [index, l] of loops.entries()) this.threads.push(new VcpuThread(l.vcpu, { exitQueue: { queue: this.queue, index } }));
    } catch (err) {
      for (const t of this.threads) t.stop();
      throw err;
    }
  }

  /** Drops a stop asked for outside a run (a system reset satisfies a pending reset request). */
  discardStopRequest(): void {
    if (!this.running) this.stopRequest = null;
  }

  /**
   * Ends the current run (devices call this while their access is handled;
   * the machine's stop() between two slices): every vCPU is stopped.
   */
  requestStop(req: StopRequest): void {
    this.stopRequest = req;
  }

  /** Runs until the machine stops, blocking the JavaScript thread. */
  run(opts: RunOptions = {}): RunResult {
    const lim = this.begin(opts);
    let ending: Ending | null = null;
    try {
      ending = this.takeRaced() ?? this.slice(lim, lim.deadline) ?? { kind: 'limit', reason: 'timeout' };
      return this.settle(ending, lim, opts);
    } finally {
      this.end(ending === null);
    }
  }

  /**
   * Like run(), letting the event loop turn every `sliceMs`. While it turns
   * every vCPU is stopped with its instruction finished, as the one vCPU of
   * RunLoop is: timers and events may read registers, snapshot, restore or
   * change the memory map without holding anything.
   */
  async runAsync(opts: AsyncRunOptions = {}): Promise<RunResult> {
    const slice = checkSliceMs(opts);
    const lim = this.begin(opts);
    let ending: Ending | null = null;
    try {
      for (;;) {
        // (an exit that came in as the last slice ended is the guest's: it ends the run)
        ending = this.takeRaced() ?? this.slice(lim, Math.min(lim.deadline, now() + slice));
        if (ending !== null) return this.settle(ending, lim, opts);
        const err = this.quiesce();
        if (err !== undefined) throw err;
        this.queue.idle();
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.closed) ending = { kind: 'closed' };
        else if (this.stopRequest) ending = { kind: 'stop', request: this.stopRequest, cpu: 0 };
        if (ending !== null) return this.settle(ending, lim, opts);
      }
    } finally {
      this.end(ending === null);
    }
  }

  private get closed(): boolean {
    return this.loops.some((l) => l.vcpu.closed);
  }

  private begin(opts: RunOptions): RunLimits {
    const lim = checkRunOptions(opts);
    if (this.running) throw new Error('this machine is already running');
    for (const l of this.loops) l.vcpu.assertNotThreaded('KVM_RUN');
    this.running = true;
    this.exits = 0;
    for (const l of this.loops) l.countFrom(opts.trace);
    this.halted.fill(false); // hlt is finished: the next run goes on after it, as with one vCPU
    return lim;
  }

  /** Every vCPU stopped (after an error too: `failed`), and the request served. */
  private end(failed: boolean): void {
    try {
      const err = this.quiesce();
      if (err !== undefined && !failed) throw err;
    } finally {
      this.queue.idle();
      this.running = false;
      this.stopRequest = null;
    }
  }

  /** Every vCPU runs (again), but those stopped at hlt or with a raced exit to report. */
  private resumeAll(): void {
    this.threads.forEach((_, i) => { if (!this.halted[i] && this.loops[i].racedResult === null) this.resume(i); });
  }

  /** A raced exit (see the header) as this run's ending, taken from its vCPU; null if there is none. */
  private takeRaced(): Ending | null {
    const cpu = this.loops.findIndex((l) => l.racedResult !== null);
    if (cpu < 0) return null;
    const result = this.loops[cpu].racedResult!;
    this.loops[cpu].racedResult = null;
    return { kind: 'result', result, cpu };
  }

  /**
   * The run's result for vCPU `i`'s exit `r` (one RunLoop.handleExit ended
   * its run with): null for a hlt while another vCPU has not halted yet
   * (this one stays stopped until the next run).
   */
  private runEnding(i: number, r: RunResult): RunResult | null {
    if (r.reason !== 'hlt') return r;
    this.halted[i] = true;
    return this.halted.every(Boolean) ? { ...r, message: 'every vCPU executed hlt' } : null;
  }

  private resume(i: number, immediate = false): void {
    this.threads[i].resume(immediate);
    this.inRun[i] = true;
  }

  /** Takes exits until `until` (performance.now() time) or the run's end. */
  private slice(lim: RunLimits, until: number): Ending | null {
    this.resumeAll();
    if (this.stopRequest) return { kind: 'stop', request: this.stopRequest, cpu: 0 };
    const over = (): Ending | null => (until >= lim.deadline ? { kind: 'limit', reason: 'timeout' } : null);
    // `until` on the native clock, for resumeWait(): no clock read in JavaScript between taking an exit and its resume
    const nativeUntil = this.queue.clockMs() + (until - now()) - SLICE_END_MS;
    let next = -1; // a vCPU whose exit was handled: resumed by the next wait (one native call)
    for (;;) {
      let taken: number;
      if (next >= 0) {
        const i = next;
        next = -1;
        taken = this.threads[i].resumeWait(nativeUntil, MAX_WAIT_MS);
        this.inRun[i] = true; // (resumed: take() below clears it again if the exit taken is its own)
        if (taken === RESUMED_AT_DEADLINE) return over();
      } else {
        const left = until - now();
        if (left <= SLICE_END_MS) return over();
        taken = this.queue.wait(Math.min(Math.ceil(left), MAX_WAIT_MS));
      }
      if (taken < 0) {
        if (this.closed) return { kind: 'closed' };
        continue;
      }
      // (An exit was taken: nothing can have closed the machine since the
      // last check, which follows every exit's dispatch.)
      const i = takenIndex(taken);
      const ending = this.take(i, takenReason(taken), lim);
      if (ending === true) next = i;
      else if (ending !== false) return ending;
    }
  }

  /**
   * Handles vCPU `i`'s exit (`queued`: its reason from the queue). True: it
   * runs on (the caller resumes it); false: it stays stopped (at hlt); or the
   * run's end.
   */
  private take(i: number, queued: number, lim: RunLimits): Ending | boolean {
    this.inRun[i] = false;
    const reason = queued >= 0 ? queued : this.reasonOf(i);
    if (reason === this.EXIT_INTR || reason < 0) {
      this.loops[i].noteInterrupted();
      // A kick without a stop (vcpu.requestExit()): run on.
      return this.stopRequest ? { kind: 'stop', request: this.stopRequest, cpu: i } : true;
    }
    this.exits++;
    const r = this.loops[i].handleExit(reason, lim.start);
    // Closed by a device callback? (Vcpu.close() stops its thread first: a JavaScript
    // counter, no native call per exit and no scan unless some thread was stopped.)
    if (threadStops() !== this.stopsSeen) {
      this.stopsSeen = threadStops();
      if (this.threads.some((t) => t.stopped)) return { kind: 'closed' };
    }
    if (r !== null) {
      const result = this.runEnding(i, r);
      return result !== null ? { kind: 'result', result, cpu: i } : false;
    }
    if (this.stopRequest) return { kind: 'stop', request: this.stopRequest, cpu: i };
    if (this.exits >= lim.maxExits) return { kind: 'limit', reason: 'maxExits' };
    return true;
  }

  /** @internal For benchmarks: each vCPU thread's and the queue's counters and timings. */
  stats(): { threads: VcpuThreadStats[]; queue: VcpuExitQueueStats } {
    return { threads: this.threads.map((t) => t.stats()), queue: this.queue.stats() };
  }

  /** The pending exit of vCPU `i` read from its thread: throws its KVM_RUN error. */
  private reasonOf(i: number): number {
    try {
      return this.threads[i].pendingReason();
    } catch (err) {
      throw translateNativeError(err);
    }
  }

  /**
   * Stops every vCPU: kicks those in KVM_RUN and takes their last exits. An
   * exit that raced with the kick is the guest's (see the header): an I/O or
   * MMIO access is dispatched and its instruction finished (resume with
   * immediate_exit), so no access is lost or done twice; a hlt halts the
   * vCPU; an exit that ends the run is kept in its RunLoop's racedResult.
   * Returns the first device error met.
   */
  private quiesce(): unknown {
    const threads = this.threads;
    if (this.closed) { // close() stopped the threads
      this.inRun.fill(false);
      return undefined;
    }
    let firstError: unknown;
    const finishing = this.loops.map(() => 0);
    const finish = (i: number) => {
      if (this.loops[i].hasPendingIo && finishing[i]++ < FINISH_IO_EXITS) this.resume(i, true);
    };
    threads.forEach((t, i) => (this.inRun[i] ? t.kick() : finish(i)));
    while (this.inRun.some(Boolean)) {
      if (this.closed) {
        this.inRun.fill(false);
        break;
      }
      const taken = this.queue.wait(50);
      if (taken < 0) {
        threads.forEach((t, k) => { if (this.inRun[k]) t.kick(); });
        continue;
      }
      const i = takenIndex(taken);
      this.inRun[i] = false;
      let reason: number;
      try {
        reason = takenReason(taken);
        if (reason < 0) reason = this.reasonOf(i);
      } catch (err) {
        firstError ??= err;
        continue;
      }
      if (reason === this.EXIT_INTR) {
        this.loops[i].noteInterrupted(); // the kick's: KVM finished the instruction before it stopped
        continue;
      }
      try {
        this.exits++;
        const r = this.loops[i].handleExit(reason, now());
        const result = r !== null ? this.runEnding(i, r) : null;
        if (result !== null) this.loops[i].racedResult = result;
      } catch (err) {
        firstError ??= err;
      }
      finish(i);
    }
    return firstError;
  }

  /** The RunResult of `ending`, made once every vCPU is stopped (results read registers). */
  private settle(ending: Ending, lim: RunLimits, opts: RunOptions): RunResult {
    const err = this.quiesce();
    if (err !== undefined) throw err;
    // The guest's own event, not the limit, is what the run ended with.
    if (ending.kind === 'limit') ending = this.takeRaced() ?? ending;
    const total = (r: RunResult, cpu: number): RunResult => ({ ...r, exits: this.exits, elapsedMs: now() - lim.start, cpu });
    switch (ending.kind) {
      case 'result': return total(ending.result, ending.cpu);
      case 'closed': return total(this.loops[0].closedDuringRun(lim.start), 0);
      case 'stop': return total(this.loops[ending.cpu].stopResult(ending.request, lim.start), ending.cpu);
      case 'limit': return total(this.loops[0].finish(ending.reason, lim.start, opts, this.exits), 0);
    }
  }
}
