// A vCPU's complete state as the raw structs of <linux/kvm.h>, captured and
// put back. Callers outside lib/kvm (snapshots) hold the bytes opaquely: they
// store them, check their lengths with the helpers here, and give them back.
//
// vCPU ioctls are expensive (≈6 µs each on a nested host), so restore has two
// levels:
//  - 'registers': general and special registers and pending events, the state
//    every instruction can change. With KVM_CAP_SYNC_REGS these are written
//    into the shared kvm_run page and KVM loads them on the next KVM_RUN: no
//    ioctl at all.
//  - 'full' (default): also FPU/SSE/AVX (XSAVE), XCRs, MSRs, debug registers,
//    MP state and the local APIC, each with its ioctl, in QEMU's order
//    (kvm_arch_put_registers).
import { layout } from '../binding';
import { KvmError } from '../errors';
import { errno } from '../util/errno';
import { hex } from '../util/hex';
import { encodeMsrs, msrListLength } from './cpu-state';
import { stageSyncRegs, type SyncClass, syncClasses } from './sync-regs';
import type { Kvm } from './system';
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

export type RestoreLevel = 'registers' | 'full';

/** How the FPU state is kept: the XSAVE area when the host has it, else struct kvm_fpu. */
export type FpuKind = 'xsave' | 'fpu';

export interface VcpuStateBlobs {
  readonly id: number;
  readonly regs: Uint8Array;
  readonly sregs: Uint8Array;
  readonly events: Uint8Array;
  readonly fpu: Uint8Array;
  readonly fpuKind: FpuKind;
  readonly xcrs?: Uint8Array;
  /** struct kvm_msrs: its count, then one entry per MSR of VcpuStateSupport.msrIndices. */
  readonly msrs: Uint8Array;
  readonly debugregs: Uint8Array;
  readonly mpState: Uint8Array;
  readonly lapic?: Uint8Array;
}

/** The pieces of a VcpuStateBlobs that are raw structs, in the order files store them. */
export const VCPU_BLOBS = ['regs', 'sregs', 'events', 'fpu', 'xcrs', 'msrs', 'debugregs', 'mpState', 'lapic'] as const;
export type VcpuBlob = (typeof VCPU_BLOBS)[number];

const BLOB_STRUCTS: Record<Exclude<VcpuBlob, 'fpu' | 'msrs'>, string> = {
  regs: 'kvm_regs', sregs: 'kvm_sregs', events: 'kvm_vcpu_events', xcrs: 'kvm_xcrs',
  debugregs: 'kvm_debugregs', mpState: 'kvm_mp_state', lapic: 'kvm_lapic_state',
};

/** The size of a blob's kernel struct (the MSR list is variable: see cpu-state's msrListLength). */
export function vcpuBlobLength(name: Exclude<VcpuBlob, 'msrs'>, fpuKind: FpuKind): number {
  if (name === 'fpu') return layout(fpuKind === 'xsave' ? 'sizeof.kvm_xsave' : 'sizeof.kvm_fpu');
  return layout(`sizeof.${BLOB_STRUCTS[name]}`);
}

/** What a host supports, read once per VM (probeVcpuStateSupport). */
export interface VcpuStateSupport {
  syncRegs: boolean;
  xsave: boolean;
  lapic: boolean;
  msrIndices: readonly number[];
}

/** Whether `state` was captured on a host with this support (same FPU format, same MSR list length). */
export function fitsSupport(state: VcpuStateBlobs, support: VcpuStateSupport): boolean {
  return state.fpuKind === (support.xsave ? 'xsave' : 'fpu') && state.msrs.length === msrListLength(support.msrIndices.length);
}

function get(vcpu: Vcpu, name: string, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  vcpu.ioctl(name, bytes);
  return bytes;
}

/** Reads every piece of state (Vcpu.captureState). */
export function captureVcpuState(vcpu: Vcpu, support: VcpuStateSupport): VcpuStateBlobs {
  // (Vcpu.ioctl loads registers a restore staged in kvm_run before reading them.)
  const indices = support.msrIndices;
  const msrs = encodeMsrs(indices);
  const read = vcpu.ioctl('KVM_GET_MSRS', msrs);
  if (read !== indices.length) {
    throw new KvmError('KVM_GET_MSRS', errno('EINVAL'), `MSR ${hex(indices[read]!)} cannot be read (KVM read ${read} of ${indices.length})`);
  }
  const fpuKind: FpuKind = support.xsave ? 'xsave' : 'fpu';
  const size = (name: Exclude<VcpuBlob, 'msrs'>) => vcpuBlobLength(name, fpuKind);
  return {
    id: vcpu.id,
    regs: get(vcpu, 'KVM_GET_REGS', size('regs')),
    sregs: get(vcpu, 'KVM_GET_SREGS', size('sregs')),
    events: get(vcpu, 'KVM_GET_VCPU_EVENTS', size('events')),
    fpu: get(vcpu, support.xsave ? 'KVM_GET_XSAVE' : 'KVM_GET_FPU', size('fpu')),
    fpuKind,
    xcrs: support.xsave ? get(vcpu, 'KVM_GET_XCRS', size('xcrs')) : undefined,
    msrs,
    debugregs: get(vcpu, 'KVM_GET_DEBUGREGS', size('debugregs')),
    mpState: get(vcpu, 'KVM_GET_MP_STATE', size('mpState')),
    lapic: support.lapic ? get(vcpu, 'KVM_GET_LAPIC', size('lapic')) : undefined,
  };
}

/** Puts `state` back (Vcpu.restoreState; see the levels above). */
export function restoreVcpuState(vcpu: Vcpu, state: VcpuStateBlobs, support: VcpuStateSupport, level: RestoreLevel): void {
  if (level === 'full') {
    // QEMU's order: FPU state and XCRs, special registers, MSRs, MP state,
    // LAPIC, events, debug registers. Special registers go by ioctl here so
    // that the APIC base is in place before the LAPIC state.
    vcpu.ioctl(state.fpuKind === 'xsave' ? 'KVM_SET_XSAVE' : 'KVM_SET_FPU', state.fpu);
    if (state.xcrs) vcpu.ioctl('KVM_SET_XCRS', state.xcrs);
    vcpu.ioctl('KVM_SET_SREGS', state.sregs);
    const indices = support.msrIndices;
    const written = vcpu.ioctl('KVM_SET_MSRS', state.msrs);
    if (written !== indices.length) {
      throw new KvmError('KVM_SET_MSRS', errno('EINVAL'), `MSR ${hex(indices[written]!)} cannot be written (KVM wrote ${written} of ${indices.length})`);
    }
    vcpu.ioctl('KVM_SET_MP_STATE', state.mpState);
    if (state.lapic) vcpu.ioctl('KVM_SET_LAPIC', state.lapic);
    vcpu.ioctl('KVM_SET_VCPU_EVENTS', state.events);
    vcpu.ioctl('KVM_SET_DEBUGREGS', state.debugregs);
    putSynced(vcpu, state, support, false);
  } else {
    putSynced(vcpu, state, support, true);
  }
}

/** General registers by kvm_run staging (or ioctl); with `everything`, special registers and events too. */
function putSynced(vcpu: Vcpu, state: VcpuStateBlobs, support: VcpuStateSupport, everything: boolean): void {
  const { regs, sregs, events } = syncClasses();
  const parts: [SyncClass, Uint8Array][] = everything ? [[regs, state.regs], [sregs, state.sregs], [events, state.events]] : [[regs, state.regs]];
  if (support.syncRegs) stageSyncRegs(vcpu, parts);
  else for (const [c, bytes] of parts) vcpu.ioctl(c.setIoctl, bytes);
}

/**
 * Probes what the host offers for saving and restoring vCPU state, keeping
 * of `wantedMsrs` those the host lists and `vcpu` can read.
 */
export function probeVcpuStateSupport(kvm: Kvm, vm: Vm, vcpu: Vcpu, hasLapic: boolean, wantedMsrs: readonly number[]): VcpuStateSupport {
  const listed = new Set(kvm.msrIndexList());
  // Listed is not always readable (e.g. TSC_AUX without RDTSCP): keep what reads back.
  const msrIndices = wantedMsrs.filter((m) => listed.has(m) && vcpu.ioctl('KVM_GET_MSRS', encodeMsrs([m])) === 1);
  const { regs, sregs, events } = syncClasses();
  const all = regs.bit | sregs.bit | events.bit;
  return {
    syncRegs: (vm.checkExtension('KVM_CAP_SYNC_REGS') & all) === all,
    xsave: vm.checkExtension('KVM_CAP_XSAVE') > 0 && vm.checkExtension('KVM_CAP_XCRS') > 0,
    lapic: hasLapic,
    msrIndices,
  };
}
