// The pc machine's in-kernel IRQ chip on real KVM: QEMU's GSI routing (the
// PIT reaches IOAPIC pin 2, which KVM's default routing never drives), ISA
// IRQs still reaching both PICs and the IOAPIC, MSIs written to kvm-apic-msi.
import { Kvm, KvmError, type Vm } from '../../lib';
import { pcGsiRouting } from '../../lib/devices/kvm-irqchip-pc';
import type { GsiRoute, MsiMessage } from '../../lib/kvm/gsi-routing';
import { ioapicFields, picFields } from '../../lib/kvm/irqchip-fields';
import { pitChannel } from '../../lib/kvm/pit-state';
import { formatMtree } from '../../lib/memory';
import { assemble } from '../helpers/assemble';
import { describeKvm, openFdCount } from '../helpers/kvm';
import { fixture } from '../helpers/pc';
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

/** The lines of an `info mtree` text that show regions named `names`. */
function rows(text: string, names: RegExp): string[] {
  return text.split('\n').filter((l) => names.test(l));
}

describeKvm('pc in-kernel IRQ chip: GSIs, regions, reset, bad input', () => {
  let kvm: Kvm;
  beforeAll(() => { kvm = Kvm.open(); });
  afterAll(() => kvm.close());

  const pic = (vm: Vm, chip: 0 | 1) => picFields(vm.getIrqchip(chip));
  const ioapic = (vm: Vm) => ioapicFields(vm.getIrqchip(2));

  test('ISA IRQ 4 reaches PIC pin 4 and IOAPIC pin 4; GSI 0 reaches PIC pin 0 and IOAPIC pin 2; GSI 2 reaches nothing', () => {
    const rig = irqchipRig(kvm, pcChip);
    try {
      const { vm, chip } = rig;
      chip.setIrq(4, true);
      expect(pic(vm, 0).irr).toBe(1 << 4);
      expect(ioapic(vm).irr).toBe(1 << 4); // masked entries keep the pin pending
      chip.setIrq(4, false);
      expect(ioapic(vm).irr).toBe(0);
      chip.line(0).set(true);
      expect(pic(vm, 0).irr).toBe((1 << 4) | (1 << 0));
      expect(ioapic(vm).irr).toBe(1 << 2);
      chip.setIrq(0, false);
      chip.setIrq(2, true);
      expect(pic(vm, 0).irr).toBe((1 << 4) | (1 << 0));
      expect(ioapic(vm).irr).toBe(0);
      chip.setIrq(2, false);
      chip.setIrq(11, true);
      expect(pic(vm, 1).irr).toBe(1 << 3);
      expect(ioapic(vm).irr).toBe(1 << 11);
    } finally {
      rig.close();
    }
  });

  test("with KVM's default routing GSI 0 reaches IOAPIC pin 0 (what the pc routing changes)", () => {
    const rig = irqchipRig(kvm, defaultChip);
    try {
      rig.chip.setIrq(0, true);
      expect(ioapic(rig.vm).irr).toBe(1 << 0);
    } finally {
      rig.close();
    }
  });

  test("the regions are QEMU's: kvm-ioapic and kvm-apic-msi in memory, kvm-pic and kvm-pit in I/O space, as info mtree shows them", () => {
    const rig = irqchipRig(kvm, pcChip);
    try {
      const names = /\): kvm-(ioapic|apic-msi|pic|pit)$/;
      expect(rows(formatMtree([rig.memory]), names)).toEqual(rows(fixture('m128/post/memory-tree.txt'), names));
      expect(rows(formatMtree([rig.io]), names)).toEqual(rows(fixture('m128/post/io-tree.txt'), names));
      expect(rows(fixture('m128/post/io-tree.txt'), names)).toHaveLength(3);
      // QEMU's kvm_apic_mem_read: all ones
      expect(Array.from(rig.memory.read(0xfee01000n, 4).data)).toEqual([0xff, 0xff, 0xff, 0xff]);
    } finally {
      rig.close();
    }
  });

  test("reset() puts back QEMU's reset state after a guest programmed the PICs, the IOAPIC and the PIT; the PIT then counts in mode 3", async () => {
    const rig = irqchipRig(kvm, pcChip);
    try {
      const { vm } = rig;
      rig.load(assemble('ioapic-pit.S', ['--32']));
      expect(await rig.loop.runAsync({ timeoutMs: 10000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x21 });
      expect(pic(vm, 0)).toMatchObject({ irqBase: 0x08, imr: 0xfb, init4: 1 });
      expect(pic(vm, 1)).toMatchObject({ irqBase: 0x70, imr: 0xff, elcr: 0x0c });
      expect(ioapic(vm).redirtbl[2]).toBe(0x30n);
      expect(pitChannel(vm.getPit2(), 0)).toMatchObject({ mode: 2, count: 1193 });

      const before = process.hrtime.bigint();
      rig.chip.reset();
      const after = process.hrtime.bigint();
      // The PIT counts again at once: its IRQ 0 may be pending already (PIC pin 0, IOAPIC pin 2).
      const zero = { lastIrr: 0, imr: 0, isr: 0, priorityAdd: 0, irqBase: 0, readRegSelect: 0, poll: 0, specialMask: 0, initState: 0, autoEoi: 0, rotateOnAutoEoi: 0, specialFullyNestedMode: 0, init4: 0, elcr: 0 };
      const master = pic(vm, 0);
      expect(master).toMatchObject({ ...zero, lastIrr: master.lastIrr & 1, elcrMask: 0xf8 });
      expect(master.irr & ~1).toBe(0);
      expect(pic(vm, 1)).toEqual({ ...zero, irr: 0, elcrMask: 0xde });
      const io = ioapic(vm);
      expect(io).toMatchObject({ baseAddress: 0xfec00000n, ioregsel: 0, id: 0, redirtbl: Array(24).fill(0x10000n) });
      expect(io.irr & ~(1 << 2)).toBe(0);
      const pit = vm.getPit2();
      expect([0, 1, 2].map((i) => pitChannel(pit, i))).toEqual([0, 1, 2].map((i) => ({
        count: 0x10000, mode: 3, gate: i !== 2, countLoadTime: expect.any(BigInt),
      })));
      for (const i of [0, 1, 2]) {
        expect(pitChannel(pit, i).countLoadTime).toBeGreaterThanOrEqual(before);
        expect(pitChannel(pit, i).countLoadTime).toBeLessThanOrEqual(after);
      }
      // Mode 3 with count 0x10000 on channel 0: a tick every 54.9 ms reaches PIC pin 0.
      const deadline = Date.now() + 5000;
      while ((pic(vm, 0).irr & 1) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(pic(vm, 0).irr & 1).toBe(1);
    } finally {
      rig.close();
    }
  });

  test('snapshot state is the raw chip structs, as the plain chip keeps it', () => {
    const rig = irqchipRig(kvm, pcChip);
    try {
      rig.chip.setIrq(5, true);
      const saved = rig.chip.saveState();
      rig.chip.reset();
      expect(pic(rig.vm, 0).irr).toBe(0);
      rig.chip.loadState(saved);
      expect(pic(rig.vm, 0).irr).toBe(1 << 5);
      expect(Object.keys(saved as object).sort()).toEqual(['chips', 'pit']);
    } finally {
      rig.close();
    }
  });

  test('bad routing tables are refused before the ioctl: the routing in force stays', () => {
    const fds = openFdCount();
    const rig = irqchipRig(kvm, pcChip);
    try {
      const { vm } = rig;
      const chip = (gsi: number, irqchip: number, pin: number) => ({ gsi, type: 'irqchip', irqchip, pin }) as GsiRoute;
      const msi = (gsi: number, address: bigint | number, data: number) => ({ gsi, type: 'msi', address, data }) as GsiRoute;
      const bad: [unknown, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, RegExp][] = [
        [undefined, TypeError, /expects an array of routes/],
        [[null], TypeError, /routes\[0\] must be an object/],
        [[{ gsi: 1, type: 'ioapic', irqchip: 2, pin: 1 }], TypeError, /routes\[0\]\.type must be 'irqchip' or 'msi'/],
        [[chip(-1, 2, 1)], RangeError, /routes\[0\]\.gsi must be an integer in \[0, \d+\]/],
        [[chip(1.5, 2, 1)], RangeError, /gsi must be an integer/],
        [[chip(1 << 20, 2, 1)], RangeError, /KVM_CAP_IRQ_ROUTING - 1/],
        [[chip(1, 3, 1)], RangeError, /irqchip must be 0 \(PIC master\), 1 \(PIC slave\) or 2 \(IOAPIC\)/],
        [[chip(1, 0, 8)], RangeError, /pin must be an integer in \[0, 7\] \(the PIC master has 8 pins\)/],
        [[chip(1, 2, 24)], RangeError, /pin must be an integer in \[0, 23\] \(the IOAPIC has 24 pins\)/],
        [[chip(1, 2, 1), chip(1, 2, 3)], RangeError, /routes\[1\]: GSI 1 is routed twice \(a GSI can reach one pin of the IOAPIC\)/],
        [[chip(1, 0, 1), msi(1, 0xfee00000, 0x30)], RangeError, /GSI 1 is routed twice \(a GSI with an MSI route can have no other route\)/],
        [[msi(30, 1n << 64n, 0x30)], RangeError, /routes\[0\]\.address .* does not fit in 64 bits/],
        [[msi(30, 0xfee00000, 2 ** 32)], RangeError, /routes\[0\]\.data must be an integer in \[0, 2\^32\)/],
        [Array.from({ length: 5000 }, (_, i) => chip(i, 2, 1)), RangeError, /5000 routes, KVM takes at most \d+ \(KVM_CAP_IRQ_ROUTING\)/],
      ];
      for (const [routes, type, message] of bad) {
        let err: unknown;
        try { vm.setGsiRouting(routes as GsiRoute[]); } catch (e) { err = e; }
        expect(err).toBeInstanceOf(type);
        expect((err as Error).message).toMatch(message);
      }
      // Still QEMU's routing: GSI 0 on IOAPIC pin 2.
      rig.chip.setIrq(0, true);
      expect(ioapic(vm).irr).toBe(1 << 2);
      // A good table with an MSI route is taken.
      vm.setGsiRouting([...pcGsiRouting(), msi(24, 0xfee00000n, 0x31)]);
      expect(() => vm.signalMsi({ address: 0xfee00000, data: 2 ** 32 } as MsiMessage)).toThrow(RangeError);
      expect(() => vm.signalMsi(null as unknown as MsiMessage)).toThrow(TypeError);
      expect(vm.signalMsi({ address: 0xfee00000n, data: 0x31 })).toBe(0); // the local APIC is software-disabled
    } finally {
      rig.close();
    }
    expect(openFdCount()).toBe(fds); // nothing leaked by the refused calls
  });

  test('the raw ioctl checks the table against its own count: a short buffer is a RangeError, nothing reaches the kernel', () => {
    const rig = irqchipRig(kvm, pcChip);
    try {
      const header = new Uint8Array(8);
      new DataView(header.buffer).setUint32(0, 5, true); // claims 5 entries, has none
      expect(() => rig.vm.ioctl('KVM_SET_GSI_ROUTING', header)).toThrow(/KVM_SET_GSI_ROUTING: buffer of 8 bytes is too small \(248 needed\)/);
      expect(() => rig.vm.ioctl('KVM_SET_GSI_ROUTING', new Uint8Array(2))).toThrow(/count missing/);
      expect(() => rig.vm.ioctl('KVM_SIGNAL_MSI', new Uint8Array(16))).toThrow(/KVM_SIGNAL_MSI: buffer of 16 bytes is too small \(32 needed\)/);
      rig.chip.setIrq(0, true);
      expect(ioapic(rig.vm).irr).toBe(1 << 2); // QEMU's routing is still in force
    } finally {
      rig.close();
    }
  });

  test('KVM refuses a routing table on a VM without an in-kernel IRQ chip: KvmError EINVAL', () => {
    const vm = kvm.createVm();
    try {
      let err: unknown;
      try { vm.setGsiRouting(pcGsiRouting()); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(KvmError);
      expect(err).toMatchObject({ syscall: 'KVM_SET_GSI_ROUTING', code: 'EINVAL' });
    } finally {
      vm.close();
    }
  });

  test('a write to kvm-apic-msi that KVM refuses is a lost MSI, as in QEMU: counted, the guest access goes on', () => {
    const rig = irqchipRig(kvm, pcChip);
    try {
      rig.vm.close(); // every ioctl now fails (EBADF)
      expect(() => rig.memory.write(0xfeeff000n, [0x31, 0, 0, 0])).not.toThrow();
      expect(rig.chip.lostMsis).toBe(1);
    } finally {
      rig.close();
    }
  });
});
