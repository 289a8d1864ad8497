// A virtual CPU: register state and KVM_RUN with typed exits.
import { ioctlNumber, kvmConstant, layout, NativeVcpu } from '../binding';
import { callNative, KvmError } from '../errors';
import { errno } from '../util/errno';
import { hex } from '../util/hex';
import { decodeExit, runLayout, VcpuExit } from './exits';
import { flushSyncRegs, SYNCED_IOCTLS, syncClasses } from './sync-regs';
import {
  checkCpuStateLayouts, type DebugRegisters, decodeDebugRegs, decodeFpu, decodeMsrValues, decodeTranslation, decodeXcrs, encodeDebugRegs,
  encodeFpu, encodeMsrs, encodeTranslation, encodeXcrs, FPU_SIZE, FpuState, FXSAVE_LAYOUT, LAPIC_SIZE, LapicState, type Translation,
  type Xcr, XSTATE_BV_OFFSET, XSTATE_FP_SSE,
} from './cpu-state';
import { cpuidBuffer, type CpuidEntry, decodeCpuid, encodeCpuid } from './cpuid';
import { queryFlexArray } from './flex-array';
import { threadOf } from './vcpu-thread';
import {
  captureVcpuState, type RestoreLevel, restoreVcpuState, type VcpuStateBlobs, type VcpuStateSupport,
} from './vcpu-state-blobs';
import {
  decodeRegisters, decodeSpecialRegisters, encodeRegisters, encodeSpecialRegisters,
  Registers, REGS_SIZE, SpecialRegisters, SREGS_SIZE,
} from './registers';

export class Vcpu {
  private readonly page: ArrayBuffer;
  private readonly view: DataView;
  private readonly dirtyRegsAt = runLayout().kvmDirtyRegs;
  private readonly regsBuf = new Uint8Array(REGS_SIZE);
  private readonly sregsBuf = new Uint8Array(SREGS_SIZE);
  private readonly sregsBufView = new DataView(this.sregsBuf.buffer);
  /** The staged special registers in kvm_run, made on first use. */
  private stagedSregsView: DataView | null = null;
  private readonly req = {
    getRegs: ioctlNumber('KVM_GET_REGS'),
    setRegs: ioctlNumber('KVM_SET_REGS'),
    getSregs: ioctlNumber('KVM_GET_SREGS'),
    setSregs: ioctlNumber('KVM_SET_SREGS'),
  };

  /**
   * True while kvm_run.s.regs holds the vCPU's registers: KVM stores them
   * there at every exit (kvm_valid_regs), and they stay current until a
   * KVM_SET_REGS. Set by kvmRun() (a VcpuThread's runs leave it as it is:
   * rip() then asks KVM, which is only slower).
   */
  private regsInPage = false;
  private readonly regsInPageAt: number;

  /** @internal created by Vm.createVcpu(); `syncRegs`: the host has KVM_CAP_SYNC_REGS for general registers */
  constructor(
    private readonly handle: NativeVcpu,
    readonly id: number,
    private readonly onClose: (vcpu: Vcpu) => void,
    syncRegs = false,
  ) {
    this.page = handle.runBuffer();
    this.view = new DataView(this.page);
    const { regs } = syncClasses();
    this.regsInPageAt = regs.offset;
    // Ask KVM to leave the general registers in kvm_run at every exit: free
    // here (measured), and it saves a KVM_GET_REGS (several µs) whenever the
    // run loop reports where the guest stopped.
    if (syncRegs) this.view.setBigUint64(layout('run.kvmValidRegs'), BigInt(regs.bit), true);
    this.syncRegs = syncRegs;
  }

  private readonly syncRegs: boolean;

  /** The guest RIP: from kvm_run when KVM left the registers there, else KVM_GET_REGS. */
  rip(): bigint {
    if (this.syncRegs && this.regsInPage && !this.closed) return this.view.getBigUint64(this.regsInPageAt + 16 * 8, true);
    return this.getRegs().rip;
  }

  /**
   * True once the vCPU is closed. Read from the kvm_run page, which closing
   * detaches whichever way it happens (close(), the VM's close(), the native
   * handle's): the run loop asks after every exit, and a native accessor
   * costs ~0.2 us there. (A page the caller moved away with transfer()
   * leaves a vCPU that cannot run either: it reads as closed.)
   */
  get closed(): boolean {
    return this.page.byteLength === 0;
  }

  /** kvm_run.kvm_dirty_regs & `bits` (the sync-regs bits are the low three of the u64). */
  private stagedBits(bits: number): number {
    return this.closed ? 0 : this.view.getUint32(this.dirtyRegsAt, true) & bits;
  }

  /** The raw native handle, for the run loop and advanced ioctls. */
  get native(): NativeVcpu {
    return this.handle;
  }

  /**
   * @internal Refuses a call while a VcpuThread runs this vCPU. The kernel
   * would make it wait, in the ioctl, for the guest to exit, which a spinning
   * guest never does: the JavaScript thread would hang there, deaf to timeouts
   * and signals. Waiting for the thread's exit is the caller's choice to make
   * (holding the thread around each call would not give a consistent state
   * across several calls, e.g. a snapshot, either). At an exit the vCPU is idle
   * and every call works.
   */
  assertNotThreaded(call: string): void {
    if (threadOf(this)?.running) {
      throw new KvmError(call, errno('EBUSY'),
        `vCPU ${this.id} is running on a VcpuThread: wait for its exit (onExit, poll() or wait()), or stop() the thread, first`);
    }
  }

  /** KVM_GET_TSC_KHZ: the guest TSC's frequency in kHz (what QEMU's invtsc puts in CPUID 0x40000010). */
  getTscKhz(): number {
    return this.ioctl('KVM_GET_TSC_KHZ');
  }

  /** Issues a whitelisted vCPU ioctl by name (see native/ioctl.cc). */
  ioctl(name: string, arg?: number | bigint | Uint8Array): number {
    const request = ioctlNumber(name);
    this.assertNotThreaded(name);
    if (SYNCED_IOCTLS.has(name)) this.flushStaged();
    if (name === 'KVM_SET_REGS') this.regsInPage = false;
    return callNative(() => this.handle.ioctl(request, arg));
  }

  /**
   * Registers staged in the kvm_run page (a snapshot restore) are loaded by
   * the next KVM_RUN; register ioctls before that must see them, so load them now.
   */
  private flushStaged(): void {
    if (this.stagedBits(-1) !== 0) flushSyncRegs(this);
  }

  getRegs(): Registers {
    this.assertNotThreaded('KVM_GET_REGS');
    this.flushStaged();
    callNative(() => this.handle.ioctl(this.req.getRegs, this.regsBuf));
    return decodeRegisters(this.regsBuf);
  }

  /** Sets registers; fields left out keep their current values. */
  setRegs(regs: Partial<Registers>): void {
    if (typeof regs !== 'object' || regs === null) throw new TypeError('setRegs expects an object of registers');
    this.assertNotThreaded('KVM_SET_REGS');
    this.flushStaged();
    this.regsInPage = false;
    callNative(() => this.handle.ioctl(this.req.getRegs, this.regsBuf));
    encodeRegisters(regs, this.regsBuf);
    callNative(() => this.handle.ioctl(this.req.setRegs, this.regsBuf));
  }

  getSregs(): SpecialRegisters {
    this.assertNotThreaded('KVM_GET_SREGS');
    this.flushStaged();
    callNative(() => this.handle.ioctl(this.req.getSregs, this.sregsBuf));
    return decodeSpecialRegisters(this.sregsBuf);
  }

  /**
   * @internal The special registers the next KVM_RUN starts from, as a view
   * to read fields from at SREGS_AT (valid until the next call on this vCPU),
   * for checks at every run's start (the IDT, CR0, EFER): the bytes a
   * restore staged in kvm_run, read in place, else KVM_GET_SREGS. See
   * peekStaged().
   */
  peekSregsView(): DataView {
    this.assertNotThreaded('KVM_GET_SREGS');
    const c = syncClasses().sregs;
    if (this.stagedBits(c.bit) !== 0) return (this.stagedSregsView ??= new DataView(this.page, c.offset, c.size));
    callNative(() => this.handle.ioctl(this.req.getSregs, this.sregsBuf));
    return this.sregsBufView;
  }

  /**
   * @internal Reads a state class the next KVM_RUN starts from into `into`:
   * from the kvm_run page when a snapshot restore staged it there, else by
   * its GET ioctl. Unlike the public getters it leaves every staged class
   * staged (they load them all by ioctl first: up to four ioctls, which a
   * reset loop exists to avoid), so it is for fields that do not depend on
   * the other classes (the run-start exception probe's exception; its
   * special registers come from peekSregsView()).
   */
  peekStaged(kind: 'events', into: Uint8Array): void {
    this.assertNotThreaded('KVM_GET_VCPU_EVENTS');
    const c = syncClasses()[kind];
    if (this.stagedBits(c.bit) !== 0) into.set(new Uint8Array(this.runPage, c.offset, into.length));
    else callNative(() => this.handle.ioctl(ioctlNumber('KVM_GET_VCPU_EVENTS'), into));
  }

  /** @internal Sets a state class for the next KVM_RUN: into the kvm_run page when it is staged there, else by its SET ioctl (see peekStaged()). */
  putStaged(kind: 'events', bytes: Uint8Array): void {
    this.assertNotThreaded('KVM_SET_VCPU_EVENTS');
    const c = syncClasses()[kind];
    if (this.stagedBits(c.bit) !== 0) new Uint8Array(this.runPage, c.offset, bytes.length).set(bytes);
    else callNative(() => this.handle.ioctl(ioctlNumber(c.setIoctl), bytes));
  }

  /** Sets special registers; fields left out keep their current values. */
  setSregs(sregs: Partial<SpecialRegisters>): void {
    if (typeof sregs !== 'object' || sregs === null) throw new TypeError('setSregs expects an object of special registers');
    this.assertNotThreaded('KVM_SET_SREGS');
    this.flushStaged();
    callNative(() => this.handle.ioctl(this.req.getSregs, this.sregsBuf));
    encodeSpecialRegisters(sregs, this.sregsBuf);
    callNative(() => this.handle.ioctl(this.req.setSregs, this.sregsBuf));
  }

  /**
   * x87/SSE state as the guest sees it. Read from the XSAVE image when the
   * host has XSAVE: there, KVM_SET_FPU leaves the x87/SSE components marked
   * "init" in XSTATE_BV, so the guest would not see what it wrote (observed on
   * this project's hosts), and KVM_GET_FPU reports no MXCSR.
   */
  getFpu(): FpuState {
    checkCpuStateLayouts();
    const xsave = this.getXsave();
    if (xsave) return decodeFpu(xsave, FXSAVE_LAYOUT);
    const buf = new Uint8Array(FPU_SIZE);
    this.ioctl('KVM_GET_FPU', buf);
    return decodeFpu(buf);
  }

  /** Sets x87/SSE state; fields left out keep their current values. */
  setFpu(fpu: Partial<FpuState>): void {
    if (typeof fpu !== 'object' || fpu === null) throw new TypeError('setFpu expects an object');
    checkCpuStateLayouts();
    const xsave = this.getXsave();
    if (xsave) {
      encodeFpu(fpu, xsave, FXSAVE_LAYOUT);
      const dv = new DataView(xsave.buffer);
      dv.setBigUint64(XSTATE_BV_OFFSET, dv.getBigUint64(XSTATE_BV_OFFSET, true) | XSTATE_FP_SSE, true);
      this.ioctl('KVM_SET_XSAVE', xsave);
      return;
    }
    const buf = new Uint8Array(FPU_SIZE);
    this.ioctl('KVM_GET_FPU', buf);
    encodeFpu(fpu, buf);
    this.ioctl('KVM_SET_FPU', buf);
  }

  /**
   * x87/SSE/AVX back to their power-on state: an empty x87 stack with
   * FCW 0x37f, MXCSR 0x1f80, zeroed vector registers, every other XSAVE
   * component in its init state.
   */
  resetFpu(): void {
    const xsave = this.getXsave();
    if (xsave) {
      const image = new Uint8Array(xsave.length);
      // x87 and SSE marked live with their reset values (so MXCSR is loaded too); the rest init.
      encodeFpu({ fcw: 0x37f, mxcsr: 0x1f80 }, image, FXSAVE_LAYOUT);
      new DataView(image.buffer).setBigUint64(XSTATE_BV_OFFSET, XSTATE_FP_SSE, true);
      this.ioctl('KVM_SET_XSAVE', image);
      return;
    }
    const fpu = new Uint8Array(FPU_SIZE);
    encodeFpu({ fcw: 0x37f, mxcsr: 0x1f80 }, fpu);
    this.ioctl('KVM_SET_FPU', fpu);
  }

  /** @internal whether the host offered XSAVE (probed on first use) */
  get hasXsaveState(): boolean {
    if (this.hasXsave === undefined) this.getXsave(); // probes once
    return this.hasXsave === true;
  }

  /** The XSAVE image (KVM_GET_XSAVE), or null when the host has no XSAVE support. */
  private getXsave(): Uint8Array | null {
    if (this.hasXsave === false) return null;
    const buf = new Uint8Array(layout('sizeof.kvm_xsave'));
    try {
      this.ioctl('KVM_GET_XSAVE', buf);
    } catch (err) {
      if (this.hasXsave === undefined && err instanceof KvmError && err.code === 'EINVAL') {
        this.hasXsave = false;
        return null;
      }
      throw err;
    }
    this.hasXsave = true;
    return buf;
  }

  private hasXsave: boolean | undefined;

  /**
   * Reads MSRs. Throws KvmError (EINVAL) naming the first MSR KVM refused,
   * since KVM stops at the first one it cannot read.
   */
  getMsrs(indices: readonly number[]): bigint[] {
    if (!Array.isArray(indices)) throw new TypeError('getMsrs expects an array of MSR indices');
    const buf = encodeMsrs(indices);
    const n = this.ioctl('KVM_GET_MSRS', buf);
    if (n !== indices.length) {
      throw new KvmError('KVM_GET_MSRS', errno('EINVAL'), `MSR ${hex(indices[n])} cannot be read (KVM read ${n} of ${indices.length})`);
    }
    return decodeMsrValues(buf, n);
  }

  getMsr(index: number): bigint {
    return this.getMsrs([index])[0];
  }

  /** Writes MSRs; entries before a refused one have been written (KVM's semantics). */
  setMsrs(entries: ReadonlyMap<number, bigint> | readonly (readonly [number, bigint])[]): void {
    const list = [...entries];
    const buf = encodeMsrs(list.map((e) => e[0]), list.map((e) => e[1]));
    const n = this.ioctl('KVM_SET_MSRS', buf);
    if (n !== list.length) {
      throw new KvmError('KVM_SET_MSRS', errno('EINVAL'), `MSR ${hex(list[n][0])} cannot be written (KVM wrote ${n} of ${list.length})`);
    }
  }

  /** The CPUID the guest sees (what setCpuid() last set; empty before). */
  getCpuid(): CpuidEntry[] {
    return queryFlexArray({
      ioctl: 'KVM_GET_CPUID2', first: 64, max: 4096, buffer: cpuidBuffer, decode: decodeCpuid,
      call: (bytes) => this.ioctl('KVM_GET_CPUID2', bytes),
    });
  }

  /** Sets the guest's CPUID, e.g. `vcpu.setCpuid(kvm.supportedCpuid())`. Call before the first run(). */
  setCpuid(entries: readonly CpuidEntry[]): void {
    if (!Array.isArray(entries)) throw new TypeError('setCpuid expects an array of CpuidEntry');
    this.ioctl('KVM_SET_CPUID2', encodeCpuid(entries));
  }

  /** The in-kernel local APIC (only with an in-kernel IRQ chip; KvmError ENXIO otherwise). */
  getLapic(): LapicState {
    checkCpuStateLayouts();
    const buf = new Uint8Array(LAPIC_SIZE);
    this.ioctl('KVM_GET_LAPIC', buf);
    return new LapicState(buf);
  }

  setLapic(state: LapicState): void {
    if (!(state instanceof LapicState)) throw new TypeError('setLapic expects a LapicState from getLapic()');
    this.ioctl('KVM_SET_LAPIC', state.bytes);
  }

  /** DR0-DR3, DR6 and DR7 (KVM_GET_DEBUGREGS). */
  getDebugRegs(): DebugRegisters {
    const bytes = new Uint8Array(layout('sizeof.kvm_debugregs'));
    this.ioctl('KVM_GET_DEBUGREGS', bytes);
    return decodeDebugRegs(bytes);
  }

  setDebugRegs(regs: DebugRegisters): void {
    this.ioctl('KVM_SET_DEBUGREGS', encodeDebugRegs(regs));
  }

  /** The extended control registers (XCR0); empty without XSAVE support. */
  getXcrs(): Xcr[] {
    const bytes = new Uint8Array(layout('sizeof.kvm_xcrs'));
    this.ioctl('KVM_GET_XCRS', bytes);
    return decodeXcrs(bytes);
  }

  setXcrs(xcrs: readonly Xcr[]): void {
    this.ioctl('KVM_SET_XCRS', encodeXcrs(xcrs));
  }

  /**
   * Drops pending and injected exceptions, interrupts and NMIs, and the
   * interrupt shadow (KVM_SET_VCPU_EVENTS with every field zero).
   */
  clearEvents(): void {
    const events = new Uint8Array(layout('sizeof.kvm_vcpu_events'));
    // The flags make KVM apply the NMI-pending and shadow fields too.
    new DataView(events.buffer).setUint32(layout('vcpu_events.flags'), kvmConstant('KVM_VCPUEVENT_VALID_NMI_PENDING') | kvmConstant('KVM_VCPUEVENT_VALID_SHADOW'), true);
    this.ioctl('KVM_SET_VCPU_EVENTS', events);
  }

  /** A guest-linear address through the guest's current page tables (KVM_TRANSLATE). */
  translate(linear: bigint): Translation {
    const bytes = encodeTranslation(linear);
    this.ioctl('KVM_TRANSLATE', bytes);
    return decodeTranslation(bytes);
  }

  /**
   * @internal A snapshot's raw copy of every piece of vCPU state (opaque
   * bytes; see vcpu-state-blobs.ts).
   */
  captureState(support: VcpuStateSupport): VcpuStateBlobs {
    return captureVcpuState(this, support);
  }

  /** @internal Puts back what captureState() returned, at `level` (see vcpu-state-blobs.ts). */
  restoreState(state: VcpuStateBlobs, support: VcpuStateSupport, level: RestoreLevel): void {
    restoreVcpuState(this, state, support, level);
  }

  /**
   * Runs the vCPU until its next exit. I/O and MMIO data are views into the
   * kvm_run page: fill them for reads before the next run().
   */
  run(): VcpuExit {
    if (this.closed) {
      throw new KvmError('KVM_RUN', errno('EBADF'), this.handle.closed
        ? 'the vCPU is closed'
        : 'the vCPU\'s kvm_run page was moved away (ArrayBuffer.prototype.transfer() of vcpu.runPage): it cannot run; close it');
    }
    this.assertNotThreaded('KVM_RUN');
    const reason = callNative(() => this.kvmRun());
    return decodeExit(this.page, this.view, reason);
  }

  /**
   * @internal One KVM_RUN, unchecked (the run loop's hot path: it has made
   * the checks run() makes once per run, and translates native errors
   * itself). Returns the raw exit reason; afterwards the general registers
   * are in kvm_run, which rip() reads for free.
   */
  kvmRun(): number {
    const reason = this.handle.run();
    this.regsInPage = true;
    return reason;
  }

  /** The kvm_run page (zero-copy; detached when the vCPU closes). */
  get runPage(): ArrayBuffer {
    return this.page;
  }

  /** Makes the next (or current) run() return `interrupted`. */
  requestExit(): void {
    this.view.setUint8(runLayout().immediateExit, 1);
  }

  /** Closes the vCPU, stopping its VcpuThread first (whose KVM_RUN would otherwise go on). */
  close(): void {
    if (this.handle.closed) return; // (the handle's own word: a transferred page must not skip the close)
    threadOf(this)?.stop();
    this.handle.close();
    this.onClose(this);
  }
}
