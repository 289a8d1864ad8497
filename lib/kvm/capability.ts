// KVM_CHECK_EXTENSION's argument: a capability by number or by name.
import { kvmConstant } from '../binding';
import { toUint } from '../util/integers';

/** The capability number of `cap`: a number, 'READONLY_MEM' or 'KVM_CAP_READONLY_MEM'. */
export function capabilityNumber(cap: number | string): number {
  const n = typeof cap === 'string' ? kvmConstant(cap.startsWith('KVM_CAP_') ? cap : `KVM_CAP_${cap}`) : cap;
  return toUint(n, 32, 'cap');
}
