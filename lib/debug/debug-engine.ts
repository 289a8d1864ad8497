// Breakpoints, single-stepping, code hooks and run({ until, count }) on
// KVM_SET_GUEST_DEBUG, for one machine (vCPU 0 runs; the others get the same
// debug state). A run under the engine:
//  - steps over the instruction at RIP first when a breakpoint sits there
//    (with nothing armed), so continuing from a breakpoint does not stop at once;
//  - then runs at full speed with the breakpoints armed (DR slots, int3),
//    or single-steps when something only stepping can catch is wanted
//    (count, a range hook, more breakpoints than slots without int3);
//  - at a breakpoint calls the code hooks there and runs on, unless a
//    debugger breakpoint or `until` is there, or a hook asked to stop.
// int3 bytes are in guest memory only while a run is armed, so a stopped
// guest's memory reads as the guest wrote it.
import type { Kvm } from '../kvm/system';
import type { AsyncRunOptions, RunResult } from '../kvm/run-loop';
import type { Vcpu } from '../kvm/vcpu';
import type { AddressSpace } from '../memory/address-space';
import { setGuestDebug } from '../kvm/guest-debug';
import { hex } from '../util/hex';
import { toU64 } from '../util/integers';
import { Breakpoints, type BreakpointPlan } from './breakpoints';
import { CodeHooks } from './code-hooks';
import { GuestLinearMemory } from './guest-memory';
import { hostReportsInt3 } from './int3-probe';

/** What the machine gives the engine. */
export interface DebugHost {
  readonly kvm: Kvm;
  readonly vcpus: readonly Vcpu[];
  readonly system: AddressSpace;
  /** one plain run of the machine (its reboot and sleep rules included) */
  run(opts: AsyncRunOptions): Promise<RunResult>;
  /** asks the plain run in progress to stop */
  stop(message: string): void;
}

/** Why a debugged run stopped at an instruction. */
export type DebugStopKind = 'step' | 'swbreak' | 'hwbreak' | 'until' | 'count' | 'hook';

export interface DebugRunResult extends RunResult {
  /** set when the run stopped before an instruction because of the debugger */
  debug?: { kind: DebugStopKind; address: bigint };
}

export interface DebugRunOptions extends AsyncRunOptions {
  /** stop before executing the instruction at this guest-linear address */
  until?: bigint | number;
  /** execute exactly this many instructions (by single-stepping), then stop */
  count?: number;
}

/**
 * A single-step that KVM does not report within this time is not coming:
 * hosts that emulate ring 0 (kvm_pvm) report single-steps and hardware
 * breakpoints for ring-0 code only, and ring-3 code runs on natively.
 */
export const STEP_TIMEOUT_MS = 2000;
/** Steps between turns of the event loop, so Ctrl-C, timers and sockets are heard while stepping. */
const STEPS_PER_TURN = 256;

const now = (): number => performance.now();

export class DebugEngine {
  readonly breakpoints = new Breakpoints();
  readonly codeHooks = new CodeHooks(this.breakpoints);
  readonly memory: GuestLinearMemory;
  private int3: boolean | undefined;
  private planted: { gpa: bigint; byte: number }[] = [];
  private armed = false;
  private interruptMessage: string | null = null;
  private inPlainRun = false;

  constructor(private readonly host: DebugHost) {
    this.memory = new GuestLinearMemory(host.system);
  }

  /** True when plain runs must go through the engine (breakpoints or hooks exist). */
  get active(): boolean {
    return this.breakpoints.size > 0 || this.codeHooks.size > 0;
  }

  /** Whether this host reports int3 as a software breakpoint (probed once). */
  get softwareBreakpoints(): boolean {
    this.int3 ??= hostReportsInt3(this.host.kvm);
    return this.int3;
  }

  /** Ends the debugged run in progress (reason 'stopped') at the next instruction boundary or exit. */
  interrupt(message = 'interrupted'): void {
    this.interruptMessage = message;
    if (this.inPlainRun) this.host.stop(message);
  }

  /** The guest-linear address of vCPU `cpu`'s next instruction (CS base + RIP outside 64-bit code). */
  linearPc(cpu = 0): bigint {
    const vcpu = this.host.vcpus[cpu];
    const rip = vcpu.rip();
    const cs = vcpu.getSregs().cs;
    return cs.l ? rip : (cs.base + rip) & 0xffff_ffffn;
  }

  async run(options: DebugRunOptions = {}): Promise<DebugRunResult> {
    const { until, count, ...plain } = options;
    if (count !== undefined && (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1)) {
      throw new RangeError(`count must be a positive integer number of instructions, got ${String(count)}`);
    }
    const stopAt = until === undefined ? undefined : toU64(until, 'until');
    const start = now();
    const deadline = plain.timeoutMs === undefined ? Infinity : start + plain.timeoutMs;
    this.interruptMessage = null;
    if (stopAt !== undefined) this.breakpoints.insert(stopAt, 'until');
    try {
      return await this.runDebugged(plain, stopAt, count, start, deadline);
    } finally {
      if (stopAt !== undefined) this.breakpoints.remove(stopAt, 'until');
      this.disarm();
    }
  }

  private async runDebugged(plain: AsyncRunOptions, until: bigint | undefined, count: number | undefined,
    start: number, deadline: number): Promise<DebugRunResult> {
    let executed = 0;
    let pc = this.linearPc();
    if (this.codeHooks.fire(pc, 0)) return this.stopped(start, 'a code hook stopped the run');
    // Continuing from a breakpoint must not stop at it again: step over it first, unarmed.
    let stepOver = this.breakpoints.has(pc);
    for (;;) {
      const plan = this.breakpoints.plan(this.softwareBreakpoints);
      if (stepOver || count !== undefined || this.codeHooks.needsStepping || plan.stepped.size > 0) {
        stepOver = false;
        const halts = this.isHlt(pc);
        const r = await this.stepOnce(plain, deadline);
        if (r !== null) return r;
        executed++;
        pc = this.linearPc();
        // KVM reports the step of a hlt and does not halt (x86.c kvm_emulate_halt skips the instruction, then
        // kvm_vcpu_do_singlestep exits): report the hlt itself, as a plain run would.
        if (halts) return this.stopped(start, 'the guest executed hlt (single-stepped: the vCPU did not halt; run on to resume it)', 'hlt');
        if (count !== undefined && executed >= count) {
          return this.debugStop(start, 'count', pc, `executed ${executed} instruction${executed === 1 ? '' : 's'} (count)`);
        }
        const stop = this.stopAt(pc, until, start);
        if (stop !== null) return stop;
        if (this.interruptMessage !== null) return this.stopped(start, this.interruptMessage);
        if (executed % STEPS_PER_TURN === 0) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.interruptMessage !== null) return this.stopped(start, this.interruptMessage);
        }
        if (now() >= deadline) return this.stopped(start, `stopped after ${plain.timeoutMs} ms (timeoutMs) with the guest still running`, 'timeout');
        continue;
      }
      this.arm(plan, false);
      const r = await this.plainRun(plain, deadline);
      this.disarm();
      if (r.reason !== 'debug' || r.exit?.reason !== 'debug') return r;
      // int3 under USE_SW_BP exits with RIP on the int3 byte (as QEMU's kvm_handle_debug expects), a DR slot before the instruction.
      pc = this.linearPc();
      const stop = this.stopAt(pc, until, start);
      if (stop !== null) return stop;
      if (!this.breakpoints.has(pc)) return this.debugStop(start, 'hwbreak', pc, `debug exception ${r.exit.exception} at ${hex(pc)}`);
      stepOver = true; // only code hooks were there (they ran in stopAt): run on
    }
  }

  /**
   * After an instruction boundary at `pc`: fires the code hooks there and
   * says whether the run stops (a debugger breakpoint, `until`, a hook's
   * stop()).
   */
  private stopAt(pc: bigint, until: bigint | undefined, start: number): DebugRunResult | null {
    const owners = this.breakpoints.ownersAt(pc);
    if (this.codeHooks.fire(pc, 0)) return this.stopped(start, 'a code hook stopped the run');
    if (until === pc) return this.debugStop(start, 'until', pc, `reached ${hex(pc)} (until)`);
    if (owners.has('gdb-hw')) return this.debugStop(start, 'hwbreak', pc, `hardware breakpoint at ${hex(pc)}`);
    if (owners.has('gdb-sw')) return this.debugStop(start, 'swbreak', pc, `breakpoint at ${hex(pc)}`);
    return null;
  }

  /**
   * One instruction with nothing armed but the trap flag. Returns null when
   * the step was reported, else the run's own result (the guest halted,
   * exited, a device stopped it) or an explanation when no step came.
   */
  private async stepOnce(plain: AsyncRunOptions, deadline: number): Promise<DebugRunResult | null> {
    this.setAll({ singleStep: true, softwareBreakpoints: false, hardwareBreakpoints: [] });
    this.armed = true;
    const left = deadline - now();
    const budget = Math.max(1, Math.min(STEP_TIMEOUT_MS, left));
    const r = await this.plainRun({ ...plain, timeoutMs: budget }, Infinity);
    this.disarm();
    if (r.reason === 'debug' && r.exit?.reason === 'debug') return null;
    if (r.reason === 'timeout' && budget < left) {
      const cpl = this.host.vcpus[0].getSregs().cs.selector & 3;
      return {
        ...r, reason: 'stopped',
        message: `KVM reported no single-step within ${STEP_TIMEOUT_MS} ms (the guest ran on, now at ${hex(this.linearPc())}, CPL ${cpl}): ` +
          'this host\'s KVM reports single-steps and hardware breakpoints for ring-0 code only (kvm_pvm runs ring 3 natively); ' +
          'stop in ring-0 code, or use a host with VMX/SVM',
      };
    }
    return r;
  }

  private async plainRun(opts: AsyncRunOptions, deadline: number): Promise<RunResult> {
    const left = deadline - now();
    this.inPlainRun = true;
    try {
      if (this.interruptMessage !== null) return this.stopped(now(), this.interruptMessage);
      return await this.host.run(left === Infinity ? opts : { ...opts, timeoutMs: Math.max(1, left) });
    } finally {
      this.inPlainRun = false;
    }
  }

  private arm(plan: BreakpointPlan, singleStep: boolean): void {
    this.armed = true;
    const vcpu = this.host.vcpus[0];
    for (const a of plan.int3) {
      // An address the guest does not map now cannot hold int3: catch it with the trap flag instead.
      let gpa: bigint;
      try {
        gpa = this.memory.physical(vcpu, a);
      } catch {
        continue;
      }
      const [byte] = this.host.system.read(gpa, 1).data;
      this.host.system.write(gpa, [0xcc]);
      this.planted.push({ gpa, byte });
    }
    this.setAll({ singleStep, softwareBreakpoints: plan.int3.length > 0, hardwareBreakpoints: plan.slots });
  }

  /** Takes the int3 bytes out and the host's debugging off. */
  private disarm(): void {
    if (!this.armed) return;
    this.armed = false;
    for (const p of this.planted.reverse()) this.host.system.write(p.gpa, [p.byte]);
    this.planted = [];
    if (this.host.vcpus.every((v) => !v.closed)) this.setAll({ singleStep: false, softwareBreakpoints: false, hardwareBreakpoints: [] });
  }

  private setAll(debug: Parameters<typeof setGuestDebug>[1]): void {
    for (const v of this.host.vcpus) setGuestDebug(v, debug);
  }

  private debugStop(start: number, kind: DebugStopKind, address: bigint, message: string): DebugRunResult {
    return { reason: 'debug', exits: 0, rip: this.host.vcpus[0].rip(), message, elapsedMs: now() - start, debug: { kind, address } };
  }

  /** Whether the instruction at `linear` is hlt (0xf4; the prefixes a hlt could carry do not change it). */
  private isHlt(linear: bigint): boolean {
    try {
      return this.memory.read(this.host.vcpus[0], linear, 1)[0] === 0xf4;
    } catch {
      return false; // not readable: the step itself will say what happens
    }
  }

  private stopped(start: number, message: string, reason: 'stopped' | 'timeout' | 'hlt' = 'stopped'): DebugRunResult {
    const vcpu = this.host.vcpus[0];
    return { reason, exits: 0, rip: vcpu.closed ? 0n : vcpu.rip(), message, elapsedMs: now() - start };
  }
}
