// KVM answers a GET ioctl whose struct ends in a flexible array (kvm_cpuid2,
// kvm_msr_list) with E2BIG when the caller's count is too small, and does not
// always say how many entries it has: ask again with twice the room.
import { KvmError } from '../errors';
import { errno } from '../util/errno';

export interface FlexArrayQuery<T> {
  /** The ioctl, for the error when even `max` entries are too few. */
  ioctl: string;
  /** Entry counts to try: `first`, doubling up to `max`. */
  first: number;
  max: number;
  /** A struct with room for `n` entries, its count field set to `n`. */
  buffer(n: number): Uint8Array;
  /** Issues the ioctl on `bytes` (throws KvmError). */
  call(bytes: Uint8Array): void;
  decode(bytes: Uint8Array): T;
}

export function queryFlexArray<T>(q: FlexArrayQuery<T>): T {
  for (let n = q.first; n <= q.max; n *= 2) {
    const bytes = q.buffer(n);
    try {
      q.call(bytes);
    } catch (err) {
      if (err instanceof KvmError && err.code === 'E2BIG') continue;
      throw err;
    }
    return q.decode(bytes);
  }
  throw new KvmError(q.ioctl, errno('E2BIG'), `more than ${q.max} entries`);
}
