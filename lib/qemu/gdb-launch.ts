// node-kvm-qemu's -gdb: the GDB stub's run control goes through launch's
// run loop, so the monitor, -S and gdb share one idea of "paused". As in
// QEMU: the VM stops when gdb attaches (gdb_chr_event), gdb's continue and
// step resume it, detaching resumes it (gdb_continue), `k` quits.
import type { DebugRunOptions, DebugRunResult } from '../debug/debug-engine';
import type { RunResult } from '../kvm/run-loop';
import type { Machine } from '../machine';
import { GdbServer, type GdbRunControl } from '../gdb/gdb-server';
import type { HmpTarget } from './hmp';
import type { GdbListen } from './gdb-options';
import { GUEST_ENDED } from '../gdb/guest-ended';

/** What launch lets the stub do to its loop. */
export interface LaunchLoop {
  /** true while the loop waits (paused, -S) */
  paused(): boolean;
  /** pause (the loop stops after its current run) */
  pause(): void;
  /** run on (the loop's cont) */
  cont(): void;
  /** end the process with this status */
  quit(status: number): void;
}

export class LaunchGdb implements GdbRunControl {
  private pending: { opts: DebugRunOptions; resolve: (r: DebugRunResult) => void } | null = null;
  private halting = false;
  private idle: { promise: Promise<void>; resolve: () => void } | null = null;
  private server: GdbServer | null = null;

  constructor(private readonly machine: Machine, private readonly loop: LaunchLoop) {}

  async listen(at: GdbListen, monitor: HmpTarget): Promise<void> {
    this.server = new GdbServer(this.machine, { port: at.port, host: at.host === '' ? '0.0.0.0' : at.host, control: this, monitor });
    await this.server.listen();
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }

  /** The options of the loop's next run: gdb's step, or a plain run. */
  runOptions(): DebugRunOptions {
    return this.pending?.opts ?? {};
  }

  /** Called by the loop before a run. */
  beforeRun(): void {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => { resolve = r; });
    this.idle = { promise, resolve };
  }

  /**
   * Called by the loop with each run's result; true when the loop must pause
   * for gdb (gdb asked for the run and the guest did not end, or gdb attached).
   */
  afterRun(r: RunResult): boolean {
    const pending = this.pending;
    this.pending = null;
    this.idle?.resolve();
    this.idle = null;
    const ended = GUEST_ENDED.has(r.reason);
    pending?.resolve(r);
    if (ended) return false;
    if (this.halting || pending !== null || r.reason === 'debug') {
      this.halting = false;
      return true;
    }
    return false;
  }

  async halt(): Promise<boolean> {
    if (this.loop.paused()) return false;
    this.halting = true;
    this.loop.pause();
    this.machine.stop('gdb: attach');
    await this.idle?.promise;
    return true;
  }

  resume(opts: { count?: number }): Promise<DebugRunResult> {
    return new Promise((resolve) => {
      this.pending = { opts, resolve };
      this.loop.cont();
    });
  }

  interrupt(): void {
    this.machine.stop('gdb: interrupt');
  }

  detach(): void {
    if (this.loop.paused()) this.loop.cont();
  }

  kill(): void {
    this.loop.quit(0);
  }
}
