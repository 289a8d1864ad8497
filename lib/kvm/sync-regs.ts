// KVM_CAP_SYNC_REGS: registers handed to KVM through the kvm_run page.
// Userspace writes a class (general registers, special registers, events)
// into kvm_run.s.regs and sets its bit in kvm_dirty_regs; KVM loads it at the
// start of the next KVM_RUN. That costs no ioctl, where each vCPU ioctl costs
// several microseconds on a nested host.
//
// Until that KVM_RUN, the kernel still holds the old values, so anything that
// reads or writes those classes by ioctl must flush staged classes first
// (flushSyncRegs) — the Vcpu getters and setters do.
import { kvmConstant, layout } from '../binding';
import { runLayout } from './exits';

export interface SyncClass {
  bit: number;
  offset: number;
  size: number;
  setIoctl: string;
}

let classes: { regs: SyncClass; sregs: SyncClass; events: SyncClass } | undefined;

export function syncClasses() {
  classes ??= {
    regs: { bit: kvmConstant('KVM_SYNC_X86_REGS'), offset: layout('run.sync.regs'), size: layout('sizeof.kvm_regs'), setIoctl: 'KVM_SET_REGS' },
    sregs: { bit: kvmConstant('KVM_SYNC_X86_SREGS'), offset: layout('run.sync.sregs'), size: layout('sizeof.kvm_sregs'), setIoctl: 'KVM_SET_SREGS' },
    events: { bit: kvmConstant('KVM_SYNC_X86_EVENTS'), offset: layout('run.sync.events'), size: layout('sizeof.kvm_vcpu_events'), setIoctl: 'KVM_SET_VCPU_EVENTS' },
  };
  return classes;
}

/** The vCPU surface this module needs (kept narrow to avoid an import cycle with vcpu.ts). */
export interface SyncTarget {
  readonly runPage: ArrayBuffer;
  readonly closed: boolean;
  ioctl(name: string, arg?: Uint8Array): number;
}

/** Stages each `[class, bytes]` pair for the next KVM_RUN (one pass over the page: this is the restore hot path). */
export function stageSyncRegs(vcpu: SyncTarget, parts: readonly (readonly [SyncClass, Uint8Array])[]): void {
  const page = new Uint8Array(vcpu.runPage);
  let bits = 0;
  for (const [c, bytes] of parts) {
    page.set(bytes.length === c.size ? bytes : bytes.subarray(0, c.size), c.offset);
    bits |= c.bit;
  }
  const dv = new DataView(vcpu.runPage);
  const at = runLayout().kvmDirtyRegs;
  dv.setBigUint64(at, dv.getBigUint64(at, true) | BigInt(bits), true);
}

/** Loads every staged class into the kernel now, by ioctl, and clears the staging bits. */
export function flushSyncRegs(vcpu: SyncTarget): void {
  if (vcpu.closed) return;
  const dv = new DataView(vcpu.runPage);
  const at = runLayout().kvmDirtyRegs;
  const dirty = Number(dv.getBigUint64(at, true));
  if (dirty === 0) return;
  const page = new Uint8Array(vcpu.runPage);
  const { regs, sregs, events } = syncClasses();
  // Cleared first: the SET ioctls below go through Vcpu.ioctl, which flushes
  // staged classes before register ioctls and must find none.
  dv.setBigUint64(at, 0n, true);
  // KVM applies them in this order too (regs, sregs, events).
  for (const c of [regs, sregs, events]) {
    if (dirty & c.bit) vcpu.ioctl(c.setIoctl, page.slice(c.offset, c.offset + c.size));
  }
}

/** The ioctls that read or write a class KVM_CAP_SYNC_REGS can stage. */
export const SYNCED_IOCTLS: ReadonlySet<string> = new Set([
  'KVM_GET_REGS', 'KVM_SET_REGS', 'KVM_GET_SREGS', 'KVM_SET_SREGS', 'KVM_GET_VCPU_EVENTS', 'KVM_SET_VCPU_EVENTS',
]);
