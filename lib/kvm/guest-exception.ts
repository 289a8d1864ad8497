// The `exception` stop reason: which exception a guest without a usable IDT
// took, when KVM_EXIT_SHUTDOWN (a triple fault) ends its run.
//
// KVM reports a triple fault as a bare KVM_EXIT_SHUTDOWN (QEMU then resets or,
// under -no-reboot, exits; it reports no vector either).  What KVM does keep
// is the vector of the last exception *it* queued, in KVM_GET_VCPU_EVENTS'
// exception.nr, even after the delivery failed (neither injected nor pending).
// That is only the faulting exception if nothing else could have left it
// there, so the vector is reported when all of this holds:
//  - at the run's start the guest's IDT cannot hold the #DF gate (IDTR limit
//    below gate 8's last byte: 16-byte gates in long mode, 8 in protected
//    mode, 4 in real mode): no exception can be delivered, each one ends in a
//    triple fault (Intel SDM vol. 3 §6.14/§6.15, "IDT limit" → #GP → #DF);
//  - exception.nr was set to a value no exception has (0xff) at the run's
//    start (KVM_SET_VCPU_EVENTS accepts any nr when nothing is injected or
//    pending: arch/x86/kvm/x86.c kvm_vcpu_ioctl_x86_set_vcpu_events), and at
//    the shutdown it holds an exception vector (0..31): KVM queued it during
//    this run;
//  - the IDTR is unchanged at the shutdown.
// Then the queued exception is the one that could not be delivered.  An
// exception KVM never sees (a VMX/SVM host delivers most guest exceptions in
// hardware) leaves the sentinel: the run keeps reporting 'shutdown', as it
// does whenever the guest had a usable IDT at the start of the run.
import { layout } from '../binding';
import { hex } from '../util/hex';
import { SREGS_AT } from './registers';
import type { Vcpu } from './vcpu';

const SENTINEL = 0xff;
const DF_VECTOR = 8;
const PF_VECTOR = 14;
const EFER_LMA = 1 << 10;

/** What the guest took (RunResult's vector, errorCode and cr2). */
export interface GuestException {
  vector: number;
  /** the error code the exception pushes, for those that have one */
  errorCode?: number;
  /** for a page fault: the linear address that faulted (CR2) */
  cr2?: bigint;
}

/** The IDTR the run started with (the probe is armed). */
export interface ExceptionProbe {
  base: bigint;
  limit: number;
}

/** Intel SDM vol. 3 table 6-1 mnemonics and names. */
const EXCEPTIONS: Record<number, string> = {
  0: '#DE divide error', 1: '#DB debug', 2: 'NMI', 3: '#BP breakpoint', 4: '#OF overflow', 5: '#BR BOUND range exceeded',
  6: '#UD invalid opcode', 7: '#NM device not available', 8: '#DF double fault', 9: 'coprocessor segment overrun',
  10: '#TS invalid TSS', 11: '#NP segment not present', 12: '#SS stack-segment fault', 13: '#GP general protection',
  14: '#PF page fault', 16: '#MF x87 floating-point error', 17: '#AC alignment check', 18: '#MC machine check',
  19: '#XM SIMD floating-point exception', 20: '#VE virtualization exception', 21: '#CP control protection',
};

/** The size of an IDT gate in the mode `sregs` (a kvm_sregs view) describes. */
function gateBytes(sregs: DataView): number {
  if ((sregs.getUint32(SREGS_AT.efer, true) & EFER_LMA) !== 0) return 16;
  return (sregs.getUint32(SREGS_AT.cr0, true) & 1) !== 0 ? 8 : 4;
}

/** No gate for #DF fits under the IDT limit: every exception ends in a triple fault. */
function noUsableIdt(sregs: DataView): boolean {
  const g = gateBytes(sregs);
  return sregs.getUint16(SREGS_AT.idtLimit, true) < DF_VECTOR * g + g - 1;
}

/** The vCPU events the next KVM_RUN starts from (a restore's staged ones stay staged). */
function readEvents(vcpu: Vcpu): Uint8Array {
  const ev = new Uint8Array(layout('sizeof.kvm_vcpu_events'));
  vcpu.peekStaged('events', ev);
  return ev;
}

/**
 * At a run's start: when the guest has no usable IDT and no exception is
 * queued, marks exception.nr with the sentinel and returns the IDTR; null
 * otherwise (one KVM_GET_SREGS then, or none after a restore staged them).
 */
export function armExceptionProbe(vcpu: Vcpu): ExceptionProbe | null {
  // (a restore's staged registers stay staged and are read in place: a reset loop's run issues no ioctl for them)
  const s = vcpu.peekSregsView();
  if (!noUsableIdt(s)) return null;
  const ev = readEvents(vcpu);
  if (ev[layout('vcpu_events.exception.injected')] !== 0 || ev[layout('vcpu_events.exception.pending')] !== 0) return null;
  ev[layout('vcpu_events.exception.nr')] = SENTINEL;
  vcpu.putStaged('events', ev);
  return { base: s.getBigUint64(SREGS_AT.idtBase, true), limit: s.getUint16(SREGS_AT.idtLimit, true) };
}

/** At KVM_EXIT_SHUTDOWN: the exception the guest could not deliver, if it is known (see the header). */
export function shutdownException(vcpu: Vcpu, probe: ExceptionProbe | null): GuestException | null {
  if (probe === null) return null;
  const s = vcpu.getSregs();
  if (s.idt.base !== probe.base || s.idt.limit !== probe.limit) return null;
  const ev = readEvents(vcpu);
  const vector = ev[layout('vcpu_events.exception.nr')];
  if (vector > 31) return null;
  const out: GuestException = { vector };
  if (ev[layout('vcpu_events.exception.has_error_code')] !== 0) {
    out.errorCode = new DataView(ev.buffer).getUint32(layout('vcpu_events.exception.error_code'), true);
  }
  if (vector === PF_VECTOR) out.cr2 = s.cr2;
  return out;
}

/** One line for RunResult.message. */
export function describeException(e: GuestException, rip: bigint, probe: ExceptionProbe): string {
  const name = EXCEPTIONS[e.vector] ?? 'reserved exception';
  const code = e.errorCode === undefined ? '' : `, error code ${hex(e.errorCode)}`;
  const cr2 = e.cr2 === undefined ? '' : `, CR2 ${hex(e.cr2)}`;
  return `the guest took exception ${e.vector} (${name}${code}${cr2}) at RIP ${hex(rip)} with no usable IDT ` +
    `(IDTR limit ${hex(probe.limit)}, too small for the #DF gate), so the CPU shut down (triple fault); ` +
    'load an IDT with handlers for it, or fix the faulting instruction';
}
