// A vCPU's complete state as the raw structs of <linux/kvm.h>, captured and
// put back.
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
import type { Kvm } from '../kvm/system';
import { stageSyncRegs, SyncClass, syncClasses } from '../kvm/sync-regs';
import type { Vcpu } from '../kvm/vcpu';
import type { Vm } from '../kvm/vm';

export type RestoreLevel = 'registers' | 'full';

/** MSRs a guest can change, saved when the host lists them (KVM_GET_MSR_INDEX_LIST). */
export const SAVED_MSRS: readonly number[] = [
  0x10, // IA32_TSC: the guest sees the same time after every restore
  0x174, 0x175, 0x176, // SYSENTER_CS/ESP/EIP
  0x1a0, // MISC_ENABLE
  0x277, // PAT
  0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, // STAR, LSTAR, CSTAR, SFMASK
  0xc0000102, // KERNEL_GS_BASE
  0xc0000103, // TSC_AUX
];

export interface VcpuState {
  readonly id: number;
  readonly regs: Uint8Array;
  readonly sregs: Uint8Array;
  readonly events: Uint8Array;
  /** XSAVE area when the host has it, else the kvm_fpu struct. */
  readonly fpu: Uint8Array;
  readonly fpuKind: 'xsave' | 'fpu';
  readonly xcrs?: Uint8Array;
  readonly msrs: Uint8Array;
  readonly debugregs: Uint8Array;
  readonly mpState: Uint8Array;
  readonly lapic?: Uint8Array;
}

/** The pieces of a VcpuState that are raw structs, in the order files store them. */
export const VCPU_BLOBS = ['regs', 'sregs', 'events', 'fpu', 'xcrs', 'msrs', 'debugregs', 'mpState', 'lapic'] as const;
export type VcpuBlob = (typeof VCPU_BLOBS)[number];

const BLOB_STRUCTS: Record<Exclude<VcpuBlob, 'fpu' | 'msrs'>, string> = {
  regs: 'kvm_regs', sregs: 'kvm_sregs', events: 'kvm_vcpu_events', xcrs: 'kvm_xcrs',
  debugregs: 'kvm_debugregs', mpState: 'kvm_mp_state', lapic: 'kvm_lapic_state',
};

/** The size of a blob's kernel struct (the MSR list is variable: its size follows its count). */
export function vcpuBlobLength(name: Exclude<VcpuBlob, 'msrs'>, fpuKind: VcpuState['fpuKind']): number {
  if (name === 'fpu') return layout(fpuKind === 'xsave' ? 'sizeof.kvm_xsave' : 'sizeof.kvm_fpu');
  return layout(`sizeof.${BLOB_STRUCTS[name]}`);
}

/** The size of a kvm_msrs struct of `count` entries. */
export function msrListLength(count: number): number {
  return 8 + 16 * count;
}

/** What a host supports, read once per VM. */
export interface VcpuStateSupport {
  syncRegs: boolean;
  xsave: boolean;
  lapic: boolean;
  msrIndices: readonly number[];
}

function get(vcpu: Vcpu, name: string, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  vcpu.ioctl(name, bytes);
  return bytes;
}

function msrList(indices: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(msrListLength(indices.length));
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, indices.length, true);
  indices.forEach((index, i) => dv.setUint32(8 + 16 * i, index, true));
  return bytes;
}

/** Reads every piece of state the snapshot keeps. */
export function captureVcpu(vcpu: Vcpu, support: VcpuStateSupport): VcpuState {
  // (Vcpu.ioctl loads registers a restore staged in kvm_run before reading them.)
  const msrs = msrList(support.msrIndices);
  const read = vcpu.ioctl('KVM_GET_MSRS', msrs);
  if (read !== support.msrIndices.length) {
    throw new Error(`KVM_GET_MSRS read ${read} of ${support.msrIndices.length} MSRs (0x${support.msrIndices[read]?.toString(16)} failed)`);
  }
  const fpuKind = support.xsave ? 'xsave' : 'fpu';
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

/** Puts `state` back into `vcpu` (see the levels above). */
export function restoreVcpu(vcpu: Vcpu, state: VcpuState, support: VcpuStateSupport, level: RestoreLevel = 'full'): void {
  if (level === 'full') {
    // QEMU's order: FPU state and XCRs, special registers, MSRs, MP state,
    // LAPIC, events, debug registers. Special registers go by ioctl here so
    // that the APIC base is in place before the LAPIC state.
    vcpu.ioctl(state.fpuKind === 'xsave' ? 'KVM_SET_XSAVE' : 'KVM_SET_FPU', state.fpu);
    if (state.xcrs) vcpu.ioctl('KVM_SET_XCRS', state.xcrs);
    vcpu.ioctl('KVM_SET_SREGS', state.sregs);
    const written = vcpu.ioctl('KVM_SET_MSRS', state.msrs);
    if (written !== support.msrIndices.length) throw new Error(`KVM_SET_MSRS wrote ${written} of ${support.msrIndices.length} MSRs`);
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
function putSynced(vcpu: Vcpu, state: VcpuState, support: VcpuStateSupport, everything: boolean): void {
  const { regs, sregs, events } = syncClasses();
  const parts: [SyncClass, Uint8Array][] = everything ? [[regs, state.regs], [sregs, state.sregs], [events, state.events]] : [[regs, state.regs]];
  if (support.syncRegs) stageSyncRegs(vcpu, parts);
  else for (const [c, bytes] of parts) vcpu.ioctl(c.setIoctl, bytes);
}

/** Probes what the host offers for saving and restoring vCPU state. */
export function probeSupport(kvm: Kvm, vm: Vm, vcpu: Vcpu, hasLapic: boolean): VcpuStateSupport {
  const listed = new Set(kvm.msrIndexList());
  // Listed is not always readable (e.g. TSC_AUX without RDTSCP): keep what reads back.
  const msrIndices = SAVED_MSRS.filter((m) => listed.has(m) && vcpu.ioctl('KVM_GET_MSRS', msrList([m])) === 1);
  const { regs, sregs, events } = syncClasses();
  const all = regs.bit | sregs.bit | events.bit;
  return {
    syncRegs: (vm.checkExtension('KVM_CAP_SYNC_REGS') & all) === all,
    xsave: vm.checkExtension('KVM_CAP_XSAVE') > 0 && vm.checkExtension('KVM_CAP_XCRS') > 0,
    lapic: hasLapic,
    msrIndices,
  };
}
