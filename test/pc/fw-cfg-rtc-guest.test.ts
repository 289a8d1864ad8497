// fw_cfg and the RTC under a real guest on KVM: port I/O exits reach the
// models through the machine's I/O address space, the DMA transfer writes
// into the guest's RAM (where the guest's own descriptor is cleared), and the
// RTC's host timer raises IRQ 8 through the in-kernel PICs.
import * as fs from 'fs';
import * as path from 'path';
import { FW_CFG_DMA_IO_BASE, FW_CFG_IO_BASE, FwCfgIo } from '../../lib/devices/fw-cfg';
import { Mc146818Rtc } from '../../lib/devices/mc146818-rtc';
import { LAPIC_REG } from '../../lib/kvm/cpu-state';
import { transaction } from '../../lib/memory';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';
import { addPcItemsM128, FIXTURES } from './fw-cfg-rig';

describeKvm('fw_cfg and mc146818 under real-mode guests', () => {
  test('the guest reads the signature by port, FILE_DIR by DMA, and CMOS register B; 0x70 reads 0xff', async () => {
    const { machine } = await testMachine({ mode: 'real' });
    const fw = new FwCfgIo({ dmaAddressSpace: machine.memory.system });
    const rtc = new Mc146818Rtc();
    try {
      addPcItemsM128(fw);
      transaction(() => {
        machine.memory.ioRoot.addSubregion(FW_CFG_IO_BASE, fw.region);
        machine.memory.ioRoot.addSubregion(FW_CFG_DMA_IO_BASE, fw.dmaRegion!);
        machine.memory.ioRoot.addSubregion(0x70, rtc.region);
      });
      machine.load(assemble('fw-cfg-rtc.S', ['--32']));
      const r = await machine.run({ timeoutMs: 10000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(Buffer.from(machine.readGuest(0x3000, 4)).toString()).toBe('QEMU');
      expect(Array.from(machine.readGuest(0x3004, 3))).toEqual([0x02, 0xff, 0x26]);
      const dir = fs.readFileSync(path.join(FIXTURES, '0019_file_dir_708.bin'));
      expect(Buffer.from(machine.readGuest(0x5000, 708)).equals(dir)).toBe(true);
      expect(Array.from(machine.readGuest(0x4000, 4))).toEqual([0, 0, 0, 0]); // control cleared by the device
    } finally {
      transaction(() => {
        for (const mr of [fw.region, fw.dmaRegion!, rtc.region]) machine.memory.ioRoot.removeSubregion(mr);
      });
      fw.close();
      rtc.close();
      machine.close();
    }
  });

  test('IRQ 8: the periodic interrupt reaches a halted guest through the in-kernel PICs, acknowledged by reading C', async () => {
    const { machine } = await testMachine({ mode: 'real', irqchip: true });
    const chip = machine.irqchip!;
    const rtc = new Mc146818Rtc({ irq: chip.line(8) });
    try {
      machine.memory.ioRoot.addSubregion(0x70, rtc.region);
      // The BSP's LINT0 takes the PIC's interrupts (ExtINT), as QEMU's APIC reset sets it.
      const lapic = machine.vcpu.getLapic();
      lapic.set(LAPIC_REG.LVT_LINT0, 0x700);
      machine.vcpu.setLapic(lapic);
      machine.load(assemble('rtc-irq8.S', ['--32']));
      const r = await machine.run({ timeoutMs: 20000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(machine.readGuest(0x3000, 2)[0]).toBeGreaterThanOrEqual(20);
      expect(machine.readGuest(0x3002, 1)[0]).toBe(0xc0); // IRQF | PF
    } finally {
      machine.memory.ioRoot.removeSubregion(rtc.region);
      rtc.close();
      machine.close();
    }
  });
});
