// Snapshots of a pc machine: after SeaBIOS's POST, after a system reset put
// PAM back to its reset state, a restore brings back the POSTed machine:
// its memory map (the PAM registers are device state), its RAM, the
// kvmclock MSR SeaBIOS programmed; and SeaBIOS then carries on.
import { MemoryRegion } from '../../lib/memory';
import { SnapshotError } from '../../lib/snapshot/snapshot';
import { describeKvm } from '../helpers/kvm';
import { NO_BOOTABLE_DEVICE, pcMachine } from '../helpers/pc';

const MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;

describeKvm('pc machine snapshots', () => {
  jest.setTimeout(120_000);

  test('restore after a system reset brings back the POSTed machine; a map that stays different is refused, changing nothing', async () => {
    const pc = pcMachine({ rebootTimeout: 0 });
    const m = pc.machine;
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      const posted = { flat: m.mtree({ flat: true }), kvmclock: m.vcpu.getMsrs([MSR_KVM_SYSTEM_TIME_NEW])[0] };
      expect(posted.kvmclock).toBe(0xe8c21n); // SeaBIOS: "kvmclock: at 0xe8c20 (msr 0x4b564d01)"
      const snap = m.snapshot();
      const fSeg = m.readGuest(0xf0000, 0x10000);

      m.systemReset(); // PAM back to reset: 0xc0000-0xfffff reads the BIOS from PCI again
      expect(m.mtree({ flat: true })).not.toBe(posted.flat);
      expect(m.vcpu.getMsrs([MSR_KVM_SYSTEM_TIME_NEW])[0]).toBe(0n);

      m.restore(snap);
      expect(m.mtree({ flat: true })).toBe(posted.flat);
      expect(m.vcpu.getMsrs([MSR_KVM_SYSTEM_TIME_NEW])[0]).toBe(0xe8c21n);
      expect(m.readGuest(0xf0000, 0x10000)).toEqual(fSeg);
      // SeaBIOS goes on from where it was: the reboot timeout (0 s) expires and it resets the machine
      await pc.runUntil('No Xen hypervisor found.');

      // A map that differs for another reason (a region of the user's) is refused after the devices
      // took the snapshot's state, and they are put back: the PAM stays as the guest has it now.
      const extra = MemoryRegion.io('extra', 0x1000);
      m.memory.root.addSubregion(0xd0000000n, extra);
      try {
        const before = m.mtree({ flat: true });
        expect(before).not.toBe(posted.flat);
        expect(() => m.restore(snap)).toThrow(SnapshotError);
        expect(m.mtree({ flat: true })).toBe(before);
      } finally {
        extra.close();
      }
    } finally {
      m.close();
    }
  });
});
