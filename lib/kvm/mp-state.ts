// struct kvm_mp_state: whether a vCPU runs, halts, or waits for INIT/SIPI
// (an application processor of a machine with an in-kernel LAPIC starts in
// 'uninitialized', KVM's wait-for-SIPI).
import { kvmConstant, layout } from '../binding';
import type { Vcpu } from './vcpu';

export type MpState = 'runnable' | 'uninitialized' | 'initReceived' | 'halted' | 'sipiReceived';

const NAMES: Record<MpState, string> = {
  runnable: 'KVM_MP_STATE_RUNNABLE', uninitialized: 'KVM_MP_STATE_UNINITIALIZED', initReceived: 'KVM_MP_STATE_INIT_RECEIVED',
  halted: 'KVM_MP_STATE_HALTED', sipiReceived: 'KVM_MP_STATE_SIPI_RECEIVED',
};

/** KVM_GET_MP_STATE (KvmError EBUSY while the vCPU runs on its thread). */
export function getMpState(vcpu: Vcpu): MpState {
  const buf = new Uint8Array(layout('sizeof.kvm_mp_state'));
  vcpu.ioctl('KVM_GET_MP_STATE', buf);
  const v = new DataView(buf.buffer).getUint32(0, true);
  const name = (Object.keys(NAMES) as MpState[]).find((k) => kvmConstant(NAMES[k]) === v);
  if (name === undefined) throw new RangeError(`KVM reported an unknown MP state ${v}`);
  return name;
}

/** KVM_SET_MP_STATE (without an in-kernel LAPIC KVM takes only 'runnable': KvmError EINVAL). */
export function setMpState(vcpu: Vcpu, state: MpState): void {
  const buf = new Uint8Array(layout('sizeof.kvm_mp_state'));
  if (!(state in NAMES)) throw new RangeError(`MP state must be one of ${Object.keys(NAMES).join(', ')}, got ${String(state)}`);
  new DataView(buf.buffer).setUint32(0, kvmConstant(NAMES[state]), true);
  vcpu.ioctl('KVM_SET_MP_STATE', buf);
}
