// Tracing of KVM_SET_USER_MEMORY_REGION in QEMU's trace format (the
// kvm_set_user_memory event of accel/kvm/trace-events), so a trace of
// node-kvm and one of QEMU compare line by line.
import { hex } from '../util/hex';

export type TraceSink = (line: string) => void;

const EVENT = 'kvm_set_user_memory';

/** Does a QEMU trace pattern (-trace enable=PATTERN; a trailing * matches any suffix) select kvm_set_user_memory? */
export function selectsSlotTrace(pattern: string): boolean {
  if (pattern === '') return false;
  return pattern.endsWith('*') ? EVENT.startsWith(pattern.slice(0, -1)) : pattern === EVENT;
}

/** Does NODE_KVM_TRACE (comma-separated QEMU trace patterns) select the event? */
function traceWanted(): boolean {
  const env = process.env.NODE_KVM_TRACE;
  if (!env) return false;
  return env.split(',').map((p) => p.trim()).some(selectsSlotTrace);
}

/**
 * Where trace lines go: the listener's `trace` option (a function; true =
 * stderr), otherwise stderr when NODE_KVM_TRACE selects the event; null = off.
 */
export function traceSink(option: boolean | TraceSink | undefined): TraceSink | null {
  if (typeof option === 'function') return option;
  if (option === true || (option === undefined && traceWanted())) return (line) => process.stderr.write(line + '\n');
  return null;
}

/** One trace line: the ioctl's arguments and its result (0, or -errno). */
export function traceSetUserMemory(sink: TraceSink, slot: number, flags: number, gpa: bigint, size: bigint, ua: bigint, ret: number): void {
  sink(`${EVENT} Slot#${slot} flags=${hex(flags)} gpa=${hex(gpa)} size=${hex(size)} ua=${hex(ua)} ret=${ret}`);
}
