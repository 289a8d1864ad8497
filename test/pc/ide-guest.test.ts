// The IDE channel under a real guest on KVM: port I/O exits reach the
// channel through the machine's I/O address space (byte, word and rep
// insw/outsw accesses), and IRQ 14 reaches the guest through the in-kernel
// PICs, acknowledged by the guest's status read; bus-master DMA writes into
// the guest's RAM through the machine's "memory" address space.
import * as fs from 'fs';
import { AtaDisk } from '../../lib/devices/ide/ata-disk';
import { PiixBmdma } from '../../lib/devices/ide/bmdma';
import { DiskImage } from '../../lib/devices/ide/disk-image';
import { IDE_PRIMARY, IdeBus } from '../../lib/devices/ide/ide-bus';
import { LAPIC_REG } from '../../lib/kvm/cpu-state';
import { transaction } from '../../lib/memory';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';
import { fixture } from '../helpers/pc';
import { MiB, pattern, removeDir, tempImage } from './ide-rig';


/** The IDENTIFY words SeaBIOS read in QEMU 7.2 (the trace's 256 data reads after command 0xec). */
function qemuIdentifyBytes(): Buffer {
  const lines = fixture('traces/seabios-io-sequence-m128-with-disk.txt').split('\n').filter((l) => /^(IN|OUT) +ide /.test(l));
  const at = lines.indexOf('OUT ide 0x1f7.1 0xec');
  const words = lines.slice(at + 1).filter((l) => l.startsWith('IN  ide 0x1f0.2')).slice(0, 256).map((l) => parseInt(l.split(' ').pop()!, 16));
  return Buffer.from(Uint16Array.from(words).buffer);
}

describeKvm('IDE under a real-mode guest', () => {
  test('polled IDENTIFY (nIEN), then WRITE and READ SECTORS driven by IRQ 14 through the in-kernel PICs', async () => {
    const { file, dir } = tempImage(8 * MiB, (s) => (s < 8 ? pattern(s) : null));
    const { machine } = await testMachine({ mode: 'real', irqchip: true });
    const image = new DiskImage(file);
    const bus = new IdeBus({ ...IDE_PRIMARY, drives: [new AtaDisk(image)], irq: machine.irqchip!.line(IDE_PRIMARY.irq) });
    try {
      transaction(() => {
        for (const m of bus.mappings) machine.memory.ioRoot.addSubregion(m.address, m.region);
      });
      const lapic = machine.vcpu.getLapic();
      lapic.set(LAPIC_REG.LVT_LINT0, 0x700); // ExtINT: the PIC's interrupts reach the BSP
      machine.vcpu.setLapic(lapic);
      machine.load(assemble('ide-pio.S', ['--32']));
      const r = await machine.run({ timeoutMs: 20000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(Buffer.from(machine.readGuest(0x4000, 512)).equals(qemuIdentifyBytes())).toBe(true);
      const written = Buffer.from(Uint16Array.from({ length: 256 }, (_, i) => i).buffer);
      expect(fs.readFileSync(file).subarray(3 * 512, 4 * 512).equals(written)).toBe(true);
      expect(Buffer.from(machine.readGuest(0x6000, 512)).equals(Buffer.from(pattern(2)))).toBe(true);
      expect(Buffer.from(machine.readGuest(0x6200, 512)).equals(written)).toBe(true);
      // 1 write completion + 2 read blocks; the last status the handler read: DRDY | DSC | DRQ
      expect(Array.from(machine.readGuest(0x3000, 3))).toEqual([3, 0, 0x58]);
    } finally {
      transaction(() => {
        for (const m of bus.mappings) machine.memory.ioRoot.removeSubregion(m.region);
      });
      bus.close();
      image.close();
      machine.close();
      removeDir(dir);
    }
  });

  test("READ DMA through the BMDMA's PRD table into the guest's RAM, completed by IRQ 14", async () => {
    const { file, dir } = tempImage(1 * MiB, (s) => (s < 8 ? pattern(s) : null));
    const { machine } = await testMachine({ mode: 'real', irqchip: true });
    const image = new DiskImage(file);
    const bmdma = new PiixBmdma({ memory: machine.memory.system });
    const bus = new IdeBus({ ...IDE_PRIMARY, drives: [new AtaDisk(image)], irq: machine.irqchip!.line(IDE_PRIMARY.irq), dma: bmdma.channels[0] });
    const regions = [...bus.mappings.map((m) => [m.address, m.region] as const), [0xc000n, bmdma.region] as const];
    try {
      transaction(() => {
        for (const [at, mr] of regions) machine.memory.ioRoot.addSubregion(at, mr);
      });
      const lapic = machine.vcpu.getLapic();
      lapic.set(LAPIC_REG.LVT_LINT0, 0x700);
      machine.vcpu.setLapic(lapic);
      machine.load(assemble('ide-dma.S', ['--32']));
      const r = await machine.run({ timeoutMs: 20000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(Buffer.from(machine.readGuest(0x8000, 512)).equals(Buffer.from(pattern(1)))).toBe(true);
      expect(Buffer.from(machine.readGuest(0x9000, 512)).equals(Buffer.from(pattern(2)))).toBe(true);
      // one interrupt; the drive DRDY | DSC, the engine INT with active clear
      expect(Array.from(machine.readGuest(0x3000, 4))).toEqual([1, 0, 0x50, 0x04]);
    } finally {
      transaction(() => {
        for (const [, mr] of regions) machine.memory.ioRoot.removeSubregion(mr);
      });
      bus.close();
      bmdma.close();
      image.close();
      machine.close();
      removeDir(dir);
    }
  });
});
