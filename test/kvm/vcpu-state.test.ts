// The vCPU's typed state capture and restore (Vcpu.captureState /
// restoreState, lib/kvm/vcpu-state-blobs.ts), which snapshots hold opaquely:
// what is captured comes back at each level, and an MSR KVM refuses is a
// KvmError naming it, with the vCPU still usable.
import { Kvm, KvmError } from '../../lib';
import { encodeMsrs, isMsrListLength, msrListCount, msrListLength } from '../../lib/kvm/cpu-state';
import { fitsSupport, probeVcpuStateSupport, type VcpuStateSupport } from '../../lib/kvm/vcpu-state-blobs';
import { SAVED_MSRS } from '../../lib/snapshot/vcpu-state';
import { describeKvm } from '../helpers/kvm';
import { rawGuest, REAL_ENTRY } from '../helpers/raw-guest';

const SYSENTER_ESP = 0x175;

describeKvm('vCPU state blobs', () => {
  let kvm: Kvm;
  let guest: ReturnType<typeof rawGuest>;
  let support: VcpuStateSupport;

  beforeAll(() => {
    kvm = Kvm.open();
    guest = rawGuest(kvm, [0xf4], 'real'); // hlt
    support = probeVcpuStateSupport(kvm, guest.vm, guest.vcpu, false, SAVED_MSRS);
  });
  afterAll(() => {
    guest.close();
    kvm.close();
  });
  afterEach(() => {
    // Still usable: runs its hlt from the start.
    guest.vcpu.setRegs({ rip: REAL_ENTRY });
    expect(guest.vcpu.run().reason).toBe('hlt');
  });

  test('probing keeps the wanted MSRs the vCPU can read; the capture fits that support', () => {
    expect(support.msrIndices).toContain(SYSENTER_ESP);
    expect(support.msrIndices.every((m) => SAVED_MSRS.includes(m))).toBe(true);
    const state = guest.vcpu.captureState(support);
    expect(state.id).toBe(0);
    expect(msrListCount(state.msrs)).toBe(support.msrIndices.length);
    expect(fitsSupport(state, support)).toBe(true);
    expect(fitsSupport(state, { ...support, msrIndices: support.msrIndices.slice(1) })).toBe(false);
    expect(fitsSupport(state, { ...support, xsave: !support.xsave })).toBe(false);
  });

  test("'full' puts back registers and MSRs; 'registers' only the registers", () => {
    const { vcpu } = guest;
    vcpu.setRegs({ rbx: 0x1234n });
    vcpu.setMsrs([[SYSENTER_ESP, 0x5000n]]);
    const state = vcpu.captureState(support);
    vcpu.setRegs({ rbx: 0x9999n });
    vcpu.setMsrs([[SYSENTER_ESP, 0x6000n]]);

    vcpu.restoreState(state, support, 'registers');
    expect(vcpu.getRegs().rbx).toBe(0x1234n); // staged in kvm_run or set by ioctl: seen either way
    expect(vcpu.getMsr(SYSENTER_ESP)).toBe(0x6000n);

    vcpu.setRegs({ rbx: 0x9999n });
    vcpu.restoreState(state, support, 'full');
    expect(vcpu.getRegs().rbx).toBe(0x1234n);
    expect(vcpu.getMsr(SYSENTER_ESP)).toBe(0x5000n);
  });

  test('an MSR KVM cannot read: KvmError EINVAL naming it', () => {
    const err = (() => {
      try {
        guest.vcpu.captureState({ ...support, msrIndices: [SYSENTER_ESP, 0xdeadbeef] });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(KvmError);
    expect(err).toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/MSR 0xdeadbeef cannot be read \(KVM read 1 of 2\)/) });
  });

  test('an MSR KVM cannot write: KvmError EINVAL naming it', () => {
    const state = guest.vcpu.captureState(support);
    const bad = { ...state, msrs: encodeMsrs([0xdeadbeef], [1n]) };
    expect(() => guest.vcpu.restoreState(bad, { ...support, msrIndices: [0xdeadbeef] }, 'full'))
      .toThrow(expect.objectContaining({ name: 'KvmError', code: 'EINVAL', message: expect.stringMatching(/MSR 0xdeadbeef cannot be written \(KVM wrote 0 of 1\)/) }));
  });

  test('kvm_msrs lengths: a header and whole 16-byte entries', () => {
    expect(msrListLength(0)).toBe(8);
    expect(msrListLength(3)).toBe(56);
    expect([8, 24, 56].map(isMsrListLength)).toEqual([true, true, true]);
    expect([0, 7, 20, 57].map(isMsrListLength)).toEqual([false, false, false, false]);
    expect(msrListCount(encodeMsrs([0x10, 0x174, 0x175]))).toBe(3);
  });
});
