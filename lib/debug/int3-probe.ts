// Does this host's KVM report a guest's int3 as a software breakpoint?
//
// On VMX/SVM hosts KVM_GUESTDBG_USE_SW_BP intercepts #BP and exits with
// KVM_EXIT_DEBUG, exception 3 (what QEMU's gdbstub relies on). A KVM that
// emulates ring-0 code (kvm_pvm) has no int3 in its 32/64-bit emulator: the
// guest dies with an emulation failure instead. Planting int3 there would
// kill the guest, so the debugger asks once per process, in a throw-away
// VM of one page, with the guest in 64-bit ring 0.
import { allocateHostMemory } from '../host-memory';
import type { Kvm } from '../kvm/system';
import { setGuestDebug } from '../kvm/guest-debug';
import { setupLongMode } from '../x86/modes';

let cached: boolean | undefined;

const RAM = 4n << 20n;
const ENTRY = 0x10_0000n;

/** True when a 64-bit ring-0 int3 exits as a software breakpoint (KVM_EXIT_DEBUG, exception 3). */
export function hostReportsInt3(kvm: Kvm): boolean {
  if (cached !== undefined) return cached;
  const ram = allocateHostMemory(RAM);
  try {
    const vm = kvm.createVm();
    try {
      const bytes = ram.bytes();
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memorySize: RAM, userspaceAddr: ram.hostAddress });
      const vcpu = vm.createVcpu(0);
      setupLongMode(vcpu, (gpa, b) => bytes.set(b, Number(gpa)), {
        gdtAddr: 0x500n, pageTableAddr: 0x10000n, identityMapSize: RAM, pageSize: '2M', entry: ENTRY, stack: 0x80000n,
      });
      bytes.set([0xcc, 0xf4], Number(ENTRY)); // int3; hlt
      setGuestDebug(vcpu, { singleStep: false, softwareBreakpoints: true, hardwareBreakpoints: [] });
      const exit = vcpu.run();
      cached = exit.reason === 'debug' && exit.exception === 3;
    } finally {
      vm.close();
    }
  } catch {
    cached = false; // a host that cannot even run the probe cannot be trusted with int3
  } finally {
    ram.close();
  }
  return cached;
}
