// The run results after which the guest is gone: gdb is told W (exited),
// node-kvm-qemu and `node-kvm run --gdb` end with the guest's status.
import type { StopReason } from '../kvm/run-loop';

export const GUEST_ENDED: ReadonlySet<StopReason> = new Set<StopReason>(['debugExit', 'poweroff', 'shutdown', 'reset']);
