// The PIIX functions under a real-mode guest on KVM: configuration and PM
// timer accesses arrive as port I/O exits, the 0xcf9 write becomes a reset
// request, and a PCI INTx line routed through PIIX3's PIRQ registers raises
// ISA IRQ 11 in the in-kernel PICs; the ELCR ports never leave the kernel.
import { mapDevices } from '../../lib/devices/device';
import { Piix3 } from '../../lib/devices/piix3';
import { Piix4Pm } from '../../lib/devices/piix4-pm';
import { PciBus } from '../../lib/devices/pci/pci-bus';
import { PciHost } from '../../lib/devices/pci/pci-host';
import { LAPIC_REG } from '../../lib/kvm/cpu-state';
import { MemoryRegion } from '../../lib/memory';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';

describeKvm('PIIX3 and PIIX4 PM under a real-mode guest', () => {
  test('PIRQC# → IRQ 11 reaches the guest through the in-kernel PICs; 0xcf9 requests a hard reset; the PM timer runs', async () => {
    const { machine } = await testMachine({ mode: 'real', irqchip: true });
    const chip = machine.irqchip!;
    const pci = MemoryRegion.container('pci', 1n << 64n);
    const bus = new PciBus('pci.0', pci, machine.memory.ioRoot);
    const host = new PciHost(bus);
    const resets: string[] = [];
    const elcr: number[] = [];
    const piix3 = new Piix3({
      bus,
      isaIrqs: Array.from({ length: 16 }, (_, i) => chip.line(i)),
      onResetRequest: (kind) => { resets.push(kind); slot3.set(true); },
      onElcrWrite: (_i, v) => elcr.push(v),
    });
    const slot3 = piix3.intxLine(0x18, 1);
    const pm = new Piix4Pm({ bus, sci: chip.line(9) });
    const devices = [host, piix3, pm];
    try {
      mapDevices({ memory: machine.memory.root, io: machine.memory.ioRoot }, devices);
      // The BSP's LINT0 takes the PIC's interrupts (ExtINT), as QEMU's APIC reset sets it.
      const lapic = machine.vcpu.getLapic();
      lapic.set(LAPIC_REG.LVT_LINT0, 0x700);
      machine.vcpu.setLapic(lapic);
      machine.load(assemble('piix-pirq.S', ['--32']));
      const r = await machine.run({ timeoutMs: 20000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(resets).toEqual(['hard']);
      expect(elcr).toEqual([]); // the kernel's PIC took 0x4d0/0x4d1: no exit reached the kvm-elcr regions
      expect(piix3.pirqRoute(2)).toBe(11);
      expect(machine.readGuest(0x3000, 2)[0]).toBe(1);
      const t = Buffer.from(machine.readGuest(0x3004, 8));
      const elapsed = (t.readUInt32LE(4) - t.readUInt32LE(0)) & 0xffffff;
      expect(t.readUInt32LE(0) >>> 24).toBe(0); // 24 bits
      expect(elapsed).toBeGreaterThan(0);
      expect(elapsed).toBeLessThan(3579545); // 1000 port reads take far less than a second
      expect(pm.pmBase).toBe(0x600);
    } finally {
      for (const d of [pm, piix3, host]) d.close();
      pci.close();
      machine.close();
    }
  });
});
