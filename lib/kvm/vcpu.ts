// A virtual CPU: register state and KVM_RUN with typed exits.
import { ioctlNumber, NativeVcpu } from '../binding';
import { callNative, KvmError } from '../errors';
import { decodeExit, runLayout, VcpuExit } from './exits';
import {
  decodeRegisters, decodeSpecialRegisters, encodeRegisters, encodeSpecialRegisters,
  Registers, REGS_SIZE, SpecialRegisters, SREGS_SIZE,
} from './registers';

export class Vcpu {
  private page: ArrayBuffer;
  private view: DataView;
  private readonly regsBuf = new Uint8Array(REGS_SIZE);
  private readonly sregsBuf = new Uint8Array(SREGS_SIZE);
  private readonly req = {
    getRegs: ioctlNumber('KVM_GET_REGS'),
    setRegs: ioctlNumber('KVM_SET_REGS'),
    getSregs: ioctlNumber('KVM_GET_SREGS'),
    setSregs: ioctlNumber('KVM_SET_SREGS'),
  };

  /** @internal created by Vm.createVcpu() */
  constructor(
    private readonly handle: NativeVcpu,
    readonly id: number,
    private readonly onClose: (vcpu: Vcpu) => void,
  ) {
    this.page = handle.runBuffer();
    this.view = new DataView(this.page);
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /** The raw native handle, for the run loop and advanced ioctls. */
  get native(): NativeVcpu {
    return this.handle;
  }

  /** Issues a whitelisted vCPU ioctl by name (see native/ioctl.cc). */
  ioctl(name: string, arg?: number | bigint | Uint8Array): number {
    const request = ioctlNumber(name);
    return callNative(() => this.handle.ioctl(request, arg));
  }

  getRegs(): Registers {
    callNative(() => this.handle.ioctl(this.req.getRegs, this.regsBuf));
    return decodeRegisters(this.regsBuf);
  }

  /** Sets registers; fields left out keep their current values. */
  setRegs(regs: Partial<Registers>): void {
    if (typeof regs !== 'object' || regs === null) throw new TypeError('setRegs expects an object of registers');
    callNative(() => this.handle.ioctl(this.req.getRegs, this.regsBuf));
    encodeRegisters(regs, this.regsBuf);
    callNative(() => this.handle.ioctl(this.req.setRegs, this.regsBuf));
  }

  getSregs(): SpecialRegisters {
    callNative(() => this.handle.ioctl(this.req.getSregs, this.sregsBuf));
    return decodeSpecialRegisters(this.sregsBuf);
  }

  /** Sets special registers; fields left out keep their current values. */
  setSregs(sregs: Partial<SpecialRegisters>): void {
    if (typeof sregs !== 'object' || sregs === null) throw new TypeError('setSregs expects an object of special registers');
    callNative(() => this.handle.ioctl(this.req.getSregs, this.sregsBuf));
    encodeSpecialRegisters(sregs, this.sregsBuf);
    callNative(() => this.handle.ioctl(this.req.setSregs, this.sregsBuf));
  }

  /**
   * Runs the vCPU until its next exit. I/O and MMIO data are views into the
   * kvm_run page: fill them for reads before the next run().
   */
  run(): VcpuExit {
    if (this.handle.closed) throw new KvmError('KVM_RUN', 9 /* EBADF */, 'the vCPU is closed');
    const reason = callNative(() => this.handle.run());
    return decodeExit(this.page, this.view, reason);
  }

  /** The kvm_run page (zero-copy; detached when the vCPU closes). */
  get runPage(): ArrayBuffer {
    return this.page;
  }

  /** Makes the next (or current) run() return `interrupted`. */
  requestExit(): void {
    this.view.setUint8(runLayout().immediateExit, 1);
  }

  close(): void {
    if (this.handle.closed) return;
    this.handle.close();
    this.onClose(this);
  }
}
