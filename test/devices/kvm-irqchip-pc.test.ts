// The pc machine's in-kernel IRQ chip on real KVM: QEMU's GSI routing (the
// PIT reaches IOAPIC pin 2, which KVM's default routing never drives), ISA
// IRQs still reaching both PICs and the IOAPIC, MSIs written to kvm-apic-msi.
import { Kvm } from '../../lib';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { defaultChip, irqchipRig, pcChip } from './irqchip-rig';

describeKvm('pc in-kernel IRQ chip: routing under a guest', () => {
  let kvm: Kvm;
  beforeAll(() => { kvm = Kvm.open(); });
  afterAll(() => kvm.close());

  test('the PIT interrupt arrives through IOAPIC pin 2, and a store to kvm-apic-msi is an MSI', async () => {
    const rig = irqchipRig(kvm, pcChip);
    try {
      rig.load(assemble('ioapic-pit.S', ['--32']));
      const r = await rig.loop.runAsync({ timeoutMs: 10000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(rig.readU32(0x3000n)).toBeGreaterThanOrEqual(3);
      expect(rig.readU32(0x3004n)).toBe(1);
      expect(rig.chip.lostMsis).toBe(0);
    } finally {
      rig.close();
    }
  });

  test("with KVM's default routing (GSI 0 on IOAPIC pin 0) the same guest never sees the timer", async () => {
    const rig = irqchipRig(kvm, defaultChip);
    try {
      rig.load(assemble('ioapic-pit.S', ['--32']));
      const r = await rig.loop.runAsync({ timeoutMs: 500 });
      expect(r.reason).toBe('timeout');
      expect(rig.readU32(0x3000n)).toBe(0);
    } finally {
      rig.close();
    }
  });
});
