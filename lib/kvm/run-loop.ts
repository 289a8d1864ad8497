// The exit dispatcher: runs one vCPU until something worth reporting happens.
//
// Port I/O exits go to the I/O AddressSpace and MMIO exits to the memory
// AddressSpace, exactly like QEMU's kvm_cpu_exec (one address_space_rw per
// element of a string I/O). The hot path reads the kvm_run page through
// views made once, so an exit allocates almost nothing.
//
// A run ends with a RunResult saying why (hlt, shutdown, debugExit, timeout,
// maxExits, stopped, or a KVM failure with a readable message). A device
// callback that throws ends the run with a DeviceError naming the device,
// the address and the guest RIP; the vCPU stays usable.
import { kvmConstant } from '../binding';
import { KvmError, translateNativeError } from '../errors';
import type { AddressSpace } from '../memory/address-space';
import { errno } from '../util/errno';
import { hex, hexBytes } from '../util/hex';
import { decodeExit, runLayout } from './exits';
import { setCurrentVcpu } from './current-cpu';
import type { Vcpu } from './vcpu';
import { describeEmulationFailure } from './emulation-failure';
import { guestMmioAccess } from './memory-listener';
import { littleEndianValue, type MmioWatch, ramValueBefore } from './mmio-watch';
import { armExceptionProbe, describeException, type ExceptionProbe, shutdownException } from './guest-exception';
import { checkRunOptions, checkSliceMs, type AsyncRunOptions, type RunLimits, type RunOptions, type VcpuRunner } from './run-options';

export { checkRunOptions, checkSliceMs, type AsyncRunOptions, type RunLimits, type RunOptions, type VcpuRunner };

export { DeviceError, type RunResult, type StopReason, type StopRequest } from './run-result';
import { DeviceError, type RunResult, type StopReason, type StopRequest } from './run-result';

const now = (): number => performance.now();

export class RunLoop implements VcpuRunner {
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private readonly L = runLayout();
  private readonly EXIT_IO: number;
  private readonly EXIT_MMIO: number;
  private readonly EXIT_INTR: number;
  private readonly IO_OUT: number;
  // Views reused across exits: I/O data by (offset, size), MMIO data by length.
  private ioViewOffset = -1;
  private readonly ioViews: Uint8Array[] = [];
  private readonly mmioViews: Uint8Array[] = [];
  // Port and address of the last exit as bigints, so a polling loop on one
  // port or register does not allocate a BigInt per exit.
  private lastPort = -1;
  private lastPortBig = 0n;
  private lastMmioLo = -1;
  private lastMmioHi = -1;
  private lastMmioBig = 0n;
  private stopRequest: StopRequest | null = null;
  private exits = 0;
  private trace: ((line: string) => void) | undefined;
  private running = false;
  /** The last KVM_RUN returned an I/O or MMIO exit that KVM has not finished yet. */
  private ioPending = false;
  /**
   * @internal An exit that ends the machine's run (a hlt only when it was
   * the last vCPU's), taken while SmpRunLoop was stopping every vCPU for
   * another ending: the next run's result (the vCPU is not resumed before),
   * unless abandonPending() drops it.
   */
  racedResult: RunResult | null = null;
  /** Memory hooks: the MMIO exits to report once performed (null: none, the hot path's only cost). */
  mmioWatch: MmioWatch | null = null;
  /** the guest had no usable IDT when the run started: a triple fault can name its exception */
  private exceptionProbe: ExceptionProbe | null = null;

  constructor(
    readonly vcpu: Vcpu,
    private readonly io: AddressSpace,
    private readonly memory: AddressSpace,
  ) {
    const page = vcpu.runPage;
    this.u8 = new Uint8Array(page);
    this.dv = new DataView(page);
    this.EXIT_IO = this.L.exit.IO;
    this.EXIT_MMIO = this.L.exit.MMIO;
    this.EXIT_INTR = this.L.exit.INTR;
    this.IO_OUT = this.L.ioOut;
    for (let n = 0; n <= 8; n++) this.mmioViews.push(new Uint8Array(page, this.L.mmioData, n));
  }

  /** Drops a stop asked for outside a run (a system reset satisfies a pending reset request). */
  discardStopRequest(): void {
    if (!this.running) this.stopRequest = null;
  }

  /** Ends the current run after the exit being handled (devices call this). */
  requestStop(req: StopRequest): void {
    this.stopRequest = req;
    // Outside a device callback (e.g. from a timer) the vCPU may be inside
    // KVM_RUN on another thread in future; kick() covers both cases.
    if (!this.running) return;
    try { this.vcpu.native.kick(); } catch { /* closed */ }
  }

  /** Runs synchronously until the guest stops, a limit is hit or a device throws. */
  run(opts: RunOptions = {}): RunResult {
    const { deadline, maxExits, start } = this.begin(opts);
    const timed = deadline !== Infinity;
    try {
      for (;;) {
        const left = deadline - now();
        if (left <= 0.05) return this.settled(this.finish('timeout', start, opts));
        if (timed) this.vcpu.native.setTimer(Math.max(1, Math.ceil(left)));
        const r = this.loop(maxExits, start, opts);
        if (r !== null) return this.settled(r);
        // Kicked: by the timer (checked at the top), or by requestExit()/kick().
        if (!timed || deadline - now() > 0.05) return this.settled(this.interrupted(start));
      }
    } catch (err) {
      this.completePendingIo(false);
      throw err;
    } finally {
      this.end();
    }
  }

  /**
   * A run can stop right after an I/O or MMIO exit (a stop request, maxExits,
   * a device that threw). KVM finishes that instruction (stores the value
   * read, advances RIP) only on the next KVM_RUN — and would do so even after
   * the user set new registers, overriding them. So before a run returns, the
   * instruction is finished here: KVM_RUN with immediate_exit set completes
   * pending I/O and returns without running guest code. Finishing a long
   * `rep ins/outs` can need more exits: they are real guest accesses and are
   * dispatched; when an error is already on its way out (`report` false),
   * errors from them are dropped so as not to mask it.
   */
  private completePendingIo(report: boolean): void {
    const vcpu = this.vcpu;
    const at = this.L.immediateExit;
    try {
      for (let i = 0; this.ioPending && i < 64; i++) {
        if (vcpu.closed) return;
        this.u8[at] = 1;
        const reason = vcpu.kvmRun();
        this.ioPending = reason === this.EXIT_IO || reason === this.EXIT_MMIO;
        if (reason === this.EXIT_IO) this.handleIo();
        else if (reason === this.EXIT_MMIO) this.handleMmio();
      }
    } catch (err) {
      this.ioPending = false;
      if (report) throw err instanceof DeviceError ? err : translateNativeError(err);
    } finally {
      if (!vcpu.closed) this.u8[at] = 0;
    }
  }

  /**
   * Gives up an instruction left unfinished by a run that stopped (see
   * completePendingIo): a `rep movs`/`rep ins` over MMIO or ports can need
   * more exits than completePendingIo allows. Resumed, it simply continues;
   * but before new registers are loaded (a new program, a snapshot restore)
   * it must end, or KVM would carry on with the old decoded instruction under
   * the new registers (the emulator does not re-decode when completing MMIO).
   * Setting RCX to 0 ends any repeat at its next check (KVM_SET_REGS makes the
   * emulator re-read its registers); then the last access is completed.
   * A raced terminal exit not reported yet (racedResult) belonged to the old
   * registers too: it is dropped.
   */
  abandonPending(): void {
    this.racedResult = null;
    if (!this.ioPending || this.vcpu.closed) return;
    this.vcpu.setRegs({ rcx: 0n });
    this.completePendingIo(false);
    if (this.ioPending) throw new Error('the vCPU is stuck in an I/O instruction that does not complete; create a new machine');
  }

  private settled(r: RunResult): RunResult {
    this.completePendingIo(true);
    return r;
  }

  /**
   * Like run(), but lets the event loop turn every `sliceMs` so streams (serial
   * input, output) and timers work while the guest runs.
   */
  async runAsync(opts: AsyncRunOptions = {}): Promise<RunResult> {
    const slice = checkSliceMs(opts);
    const { deadline, maxExits, start } = this.begin(opts);
    try {
      for (;;) {
        const left = deadline - now();
        if (left <= 0.05) return this.settled(this.finish('timeout', start, opts));
        const ms = Math.max(1, Math.ceil(Math.min(left, slice)));
        const sliceEnd = now() + ms;
        this.vcpu.native.setTimer(ms);
        const r = this.loop(maxExits, start, opts);
        if (r !== null) return this.settled(r);
        if (sliceEnd - now() > 0.05 && deadline - now() > 0.05) return this.settled(this.interrupted(start));
        this.vcpu.native.setTimer(0);
        // Finish a pending I/O instruction before the event loop (and user code) runs.
        this.completePendingIo(true);
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.vcpu.closed) return this.closedDuringRun(start);
        if (this.stopRequest) return this.finishStop(start, opts);
      }
    } catch (err) {
      this.completePendingIo(false);
      throw err;
    } finally {
      this.end();
    }
  }

  private begin(opts: RunOptions): RunLimits {
    const limits = checkRunOptions(opts);
    if (this.running) throw new Error('this vCPU is already running');
    if (this.vcpu.closed) throw new KvmError('KVM_RUN', errno('EBADF'), 'the vCPU is closed');
    this.vcpu.assertNotThreaded('KVM_RUN');
    this.exceptionProbe = armExceptionProbe(this.vcpu);
    this.running = true;
    this.countFrom(opts.trace);
    return limits;
  }

  /** @internal Starts this vCPU's count of exits (and its trace) for a run; the SMP driver's begin(). */
  countFrom(trace: ((line: string) => void) | undefined): void {
    this.exits = 0;
    this.trace = trace;
  }

  /** @internal Exits handled since countFrom(). */
  get exitCount(): number {
    return this.exits;
  }

  /** @internal The vCPU's KVM_RUN ended without an exit (a kick): KVM finished any pending instruction first. */
  noteInterrupted(): void {
    this.ioPending = false;
  }

  /** @internal The last exit was an I/O or MMIO exit KVM has not finished (the next KVM_RUN does). */
  get hasPendingIo(): boolean {
    return this.ioPending;
  }

  private end(): void {
    this.running = false;
    this.stopRequest = null;
    // Disarm the timer and clear immediate_exit so the next run starts clean.
    if (!this.vcpu.closed) this.vcpu.native.setTimer(0);
  }

  /** The vCPU (or its machine) was closed by code the run let run: a timer, an event, a device. */
  /** @internal */
  closedDuringRun(start: number): RunResult {
    return this.result('stopped', start, 'the vCPU was closed during the run');
  }

  /** @internal */
  interrupted(start: number): RunResult {
    return this.result('stopped', start, 'interrupted (immediate_exit was set by requestExit() or kick())');
  }

  /**
   * KVM_RUN until a stop. Returns null when kicked without a reason to stop
   * (end of a slice, or a timer that fired early): the caller re-arms.
   */
  private loop(maxExits: number, start: number, opts: RunOptions): RunResult | null {
    const vcpu = this.vcpu;
    for (;;) {
      let reason: number;
      try {
        reason = vcpu.kvmRun();
      } catch (err) {
        if (vcpu.closed) return this.closedDuringRun(start); // by a device callback
        throw translateNativeError(err);
      }
      if (reason === this.EXIT_INTR) {
        this.ioPending = false;
        if (this.stopRequest) return this.finishStop(start, opts);
        return null;
      }
      const r = this.handleExit(reason, start);
      if (r !== null) return r;
      if (this.stopRequest) return this.finishStop(start, opts);
      if (this.exits >= maxExits) return this.finish('maxExits', start, opts);
    }
  }

  /**
   * @internal One exit other than KVM_EXIT_INTR, for either driver (this
   * loop on the JavaScript thread, or SmpRunLoop for a vCPU on its thread):
   * I/O and MMIO are dispatched to the devices (null: run on); any other
   * exit ends the vCPU's run with its result. A device that throws throws
   * its DeviceError from here.
   */
  handleExit(reason: number, start: number): RunResult | null {
    // Set before dispatching: a device that throws leaves the instruction pending.
    const io = reason === this.EXIT_IO;
    const mmio = reason === this.EXIT_MMIO;
    this.ioPending = io || mmio;
    this.exits++;
    if (io) this.handleIo();
    else if (mmio) this.handleMmio();
    else return this.terminal(reason, start);
    return null;
  }

  private handleIo(): void {
    const dv = this.dv;
    const L = this.L;
    const isWrite = this.u8[L.ioDirection] === this.IO_OUT;
    const size = this.u8[L.ioSize];
    const port = dv.getUint16(L.ioPort, true);
    const count = dv.getUint32(L.ioCount, true);
    // data_offset is a u64 but always inside the mapping: the low word suffices.
    const offset = dv.getUint32(L.ioDataOffset, true);
    if (port !== this.lastPort) {
      this.lastPort = port;
      this.lastPortBig = BigInt(port);
    }
    if (this.trace) this.trace(this.describeIo(isWrite, port, size, count, offset));
    if (count === 1) {
      this.ioRw(this.ioView(offset, size), isWrite, size);
      return;
    }
    if (offset + size * count > this.u8.length) throw new RangeError('KVM_EXIT_IO data lies outside the kvm_run page');
    // String I/O (rep ins/outs): one access per element, in order.
    for (let i = 0; i < count; i++) {
      this.ioRw(this.u8.subarray(offset + i * size, offset + (i + 1) * size), isWrite, size);
    }
  }

  private ioView(offset: number, size: number): Uint8Array {
    if (offset !== this.ioViewOffset) {
      if (offset + 8 > this.u8.length) throw new RangeError('KVM_EXIT_IO data lies outside the kvm_run page');
      this.ioViewOffset = offset;
      this.ioViews.length = 0;
      for (let n = 0; n <= 8; n++) this.ioViews.push(this.u8.subarray(offset, offset + n));
    }
    return this.ioViews[size];
  }

  private ioRw(buf: Uint8Array, isWrite: boolean, size: number): void {
    setCurrentVcpu(this.vcpu);
    try {
      this.io.rw(this.lastPortBig, buf, isWrite);
    } catch (err) {
      if (!isWrite) buf.fill(0xff); // the in-instruction completes with all-ones if resumed
      throw this.deviceError(this.io, 'io', this.lastPortBig, isWrite, size, err);
    } finally {
      setCurrentVcpu(null);
    }
  }

  private handleMmio(): void {
    const dv = this.dv;
    const L = this.L;
    const lo = dv.getUint32(L.mmioPhysAddr, true);
    const hi = dv.getUint32(L.mmioPhysAddr + 4, true);
    if (lo !== this.lastMmioLo || hi !== this.lastMmioHi) {
      this.lastMmioLo = lo;
      this.lastMmioHi = hi;
      this.lastMmioBig = (BigInt(hi) << 32n) | BigInt(lo);
    }
    const len = dv.getUint32(L.mmioLen, true);
    const isWrite = this.u8[L.mmioIsWrite] !== 0;
    const buf = this.mmioViews[len > 8 ? 8 : len];
    if (this.trace) this.trace(`mmio ${isWrite ? 'write' : 'read '} ${hex(this.lastMmioBig)} len=${len}${isWrite ? ` data=${hexBytes(buf)}` : ''}`);
    const watch = this.mmioWatch !== null && this.mmioWatch.touches(this.lastMmioBig, buf.length, isWrite) ? this.mmioWatch : null;
    const oldValue = watch !== null && isWrite ? ramValueBefore(this.memory, this.lastMmioBig, buf.length) : undefined;
    try {
      // Guest writes to a read-only section (ROM, a read-only alias) are
      // dropped here: KVM_MEM_READONLY slots turn them into MMIO exits.
      if (isWrite) guestMmioAccess(this.memory, this.lastMmioBig, buf, true);
      else this.memory.rw(this.lastMmioBig, buf, false);
    } catch (err) {
      if (!isWrite) buf.fill(0);
      throw this.deviceError(this.memory, 'memory', this.lastMmioBig, isWrite, len, err);
    }
    if (this.trace && !isWrite) this.trace(`  -> ${hexBytes(buf)}`);
    if (watch !== null) this.reportWatched(watch, isWrite, buf, oldValue);
  }

  private reportWatched(watch: MmioWatch, isWrite: boolean, buf: Uint8Array, oldValue: bigint | undefined): void {
    const address = this.lastMmioBig;
    const rip = this.rip();
    try {
      watch.report({ address, size: buf.length, isWrite, value: littleEndianValue(buf), oldValue, rip, vcpu: this.vcpu.id });
    } catch (err) {
      throw new DeviceError('memory hook', 'memory', address, isWrite, buf.length, rip, err);
    }
  }

  private describeIo(isWrite: boolean, port: number, size: number, count: number, offset: number): string {
    const data = isWrite ? ` data=${hexBytes(this.u8.subarray(offset, offset + Math.min(size * count, 32)))}` : '';
    return `io ${isWrite ? 'out' : 'in '} port=${hex(port)} size=${size}${count > 1 ? ` count=${count}` : ''}${data}`;
  }

  private deviceError(as: AddressSpace, space: 'io' | 'memory', addr: bigint, isWrite: boolean, size: number, err: unknown): DeviceError {
    let device = 'unassigned';
    try {
      const s = as.findSection(addr, 1n);
      if (s) device = s.mr.name;
    } catch { /* keep 'unassigned' */ }
    return new DeviceError(device, space, addr, isWrite, size, this.rip(), err);
  }

  private rip(): bigint {
    try {
      return this.vcpu.rip();
    } catch {
      return 0n;
    }
  }

  private finishStop(start: number, opts: RunOptions): RunResult {
    const req = this.stopRequest!;
    this.stopRequest = null;
    void opts;
    return this.stopResult(req, start);
  }

  /** @internal The result of a run a device (or the user) asked to stop. */
  stopResult(req: StopRequest, start: number): RunResult {
    if (req.reason === 'debugExit') {
      return this.result('debugExit', start, `the guest wrote to the debug-exit port: exit code ${req.exitCode}`, { exitCode: req.exitCode });
    }
    if (req.reason === 'stopped') return this.result('stopped', start, req.message ?? 'stopped on request');
    return this.result(req.reason, start, req.message);
  }

  /** @internal A run ended by its limit; `exits`: of every vCPU (the SMP driver's total). */
  finish(reason: 'timeout' | 'maxExits', start: number, opts: RunOptions, exits = this.exits): RunResult {
    const msg = reason === 'timeout'
      ? `stopped after ${opts.timeoutMs} ms (timeoutMs) with the guest still running`
      : `stopped after ${exits} exits (maxExits)`;
    return { ...this.result(reason, start, msg), exits };
  }

  private terminal(reason: number, start: number): RunResult {
    const exit = decodeExit(this.vcpu.runPage, this.dv, reason);
    if (this.trace) this.trace(exit.reason);
    switch (exit.reason) {
      case 'hlt':
        return this.result('hlt', start, 'the guest executed hlt');
      case 'shutdown': {
        const e = shutdownException(this.vcpu, this.exceptionProbe);
        if (e !== null) return this.result('exception', start, describeException(e, this.rip(), this.exceptionProbe!), e);
        return this.result('shutdown', start,
          'the guest shut down (triple fault: an exception it could not deliver, usually a bad IDT, GDT or stack); ' +
          'the vCPU must be reset or its registers set again before it can run');
      }
      case 'internalError': {
        const rip = this.rip();
        return { ...this.result('internalError', start, describeEmulationFailure(this.vcpu, this.memory, exit, rip)), rip, exit };
      }
      case 'failEntry':
        return { ...this.result('failEntry', start,
          `KVM could not enter the guest (hardware entry failure reason ${hex(exit.hardwareEntryFailureReason)}): ` +
          'the segment or control register state is invalid for the CPU mode'), exit };
      case 'systemEvent':
        return { ...this.result('systemEvent', start, `the guest requested a system event (type ${exit.type}: ${SYSTEM_EVENTS[exit.type] ?? 'unknown'})`), exit };
      case 'debug':
        return { ...this.result('debug', start, `debug exception ${exit.exception} at ${hex(exit.pc)}`), exit };
      default:
        return { ...this.result('unknown', start, `unhandled KVM exit ${reason}`), exit };
    }
  }

  private result(reason: StopReason, start: number, message: string, extra: Partial<RunResult> = {}): RunResult {
    return { reason, exits: this.exits, rip: this.rip(), message, elapsedMs: now() - start, ...extra };
  }
}

const SYSTEM_EVENTS: Record<number, string> = { 1: 'shutdown', 2: 'reset', 3: 'crash' };

/** Exit numbers, exported for tests and tools. */
export function exitNumber(name: string): number {
  return kvmConstant(`KVM_EXIT_${name}`);
}
