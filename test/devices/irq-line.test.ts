// Interrupt lines and the Device contract: a device drives an IrqLine, the
// board decides where it goes (an in-kernel GSI through KVM_IRQ_LINE, or a
// callback); devices say where their regions go; the VM's irqchip, PIT and
// TSS calls are typed and check their arguments before any ioctl.
import { PassThrough } from 'stream';
import { callbackIrqLine, COM1_PORT, DebugExit, IRQCHIP_GSI_COUNT, kvmIrqLine, KvmError, Machine, Serial16550A } from '../../lib';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS } from '../../lib/memory';
import { describeKvm } from '../helpers/kvm';

// struct kvm_irqchip for a PIC: u32 chip_id, u32 pad, then kvm_pic_state { u8 last_irr; u8 irr; ... }.
const PIC_IRR = 9;

describe('callback lines and device mappings', () => {
  test('a serial port drives the IrqLine it was given (IER THRI with MCR OUT2 raises it, reading IIR lowers it)', () => {
    const levels: boolean[] = [];
    const serial = new Serial16550A({ output: new PassThrough(), irq: callbackIrqLine((l) => levels.push(l), 'test') });
    const io = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
    io.addSubregion(0x3f8n, serial.region);
    const as = new AddressSpace(io, 'I/O');
    try {
      as.write(0x3fc, [0x08]); // MCR.OUT2
      as.write(0x3f9, [0x02]); // IER.THRI
      expect(levels).toEqual([true]);
      as.read(0x3fa, 1); // IIR: THR empty, acknowledged
      expect(levels).toEqual([true, false]);
    } finally {
      serial.close();
      as.destroy();
      io.close();
      serial.region.close();
    }
  });

  test('an irq that is neither an IrqLine nor a function is a TypeError', () => {
    expect(() => new Serial16550A({ irq: 4 as never })).toThrow(
      new TypeError('serial irq must be an IrqLine (kvmIrqLine(), callbackIrqLine()) or a function (level) => void'));
    expect(() => new Serial16550A({ irq: { set: 1 } as never })).toThrow(TypeError);
    expect(() => callbackIrqLine('no' as never)).toThrow(TypeError);
  });

  test('devices name their QEMU type and the I/O port their region goes to (QEMU iobase defaults)', () => {
    const serial = new Serial16550A();
    const other = new Serial16550A({ iobase: 0x2f8, name: 'com2' });
    const exit = new DebugExit({ onExit: () => undefined, iobase: 0x504 });
    expect(serial).toMatchObject({ name: 'isa-serial', mappings: [{ space: 'io', address: BigInt(COM1_PORT), region: serial.region }] });
    expect(other.mappings).toEqual([{ space: 'io', address: 0x2f8n, region: other.region }]);
    expect(exit).toMatchObject({ name: 'isa-debug-exit', mappings: [{ space: 'io', address: 0x504n, region: exit.region }] });
    expect(new DebugExit({ onExit: () => undefined }).mappings[0]!.address).toBe(0x501n);
    expect(() => new Serial16550A({ iobase: 0x10000 })).toThrow(new RangeError('serial iobase must be an integer port in [0, 0xffff], got 65536'));
    expect(() => new DebugExit({ onExit: () => undefined, iobase: -1 })).toThrow(RangeError);
    for (const d of [serial, other]) d.close();
  });
});

describeKvm('in-kernel interrupt lines', () => {
  test("the tiny board wires COM1's interrupt to GSI 4 of the in-kernel IRQ chip", () => {
    const m = Machine.createSync({ memory: '1M', mode: 'real', serial: { output: null }, irqchip: true });
    try {
      // mov dx, 0x3fc; mov al, 8; out dx, al (MCR.OUT2); mov dx, 0x3f9; mov al, 2; out dx, al (IER.THRI);
      // mov dx, 0x501; out dx, al (debug-exit)
      m.load(Uint8Array.of(0xba, 0xfc, 0x03, 0xb0, 0x08, 0xee, 0xba, 0xf9, 0x03, 0xb0, 0x02, 0xee, 0xba, 0x01, 0x05, 0xee), { format: 'flat' });
      expect(m.vm.getIrqchip(0).bytes[PIC_IRR]).toBe(0);
      expect(m.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit' });
      expect(m.vm.getIrqchip(0).bytes[PIC_IRR]).toBe(1 << 4); // the master PIC saw IRQ 4
    } finally {
      m.close();
    }
  });

  test('kvmIrqLine drives a GSI; irqchip.line() is the same; bad GSIs are refused before any ioctl', () => {
    const m = Machine.createSync({ memory: '1M', serial: false, irqchip: true });
    try {
      const line = kvmIrqLine(m.vm, 3);
      expect(line.name).toBe('GSI 3');
      line.set(true);
      expect(m.vm.getIrqchip(0).bytes[PIC_IRR]).toBe(1 << 3);
      m.irqchip!.line(5).set(true);
      expect(m.vm.getIrqchip(0).bytes[PIC_IRR]).toBe((1 << 3) | (1 << 5));
      expect(IRQCHIP_GSI_COUNT).toBe(24);
      expect(() => kvmIrqLine(m.vm, 24)).toThrow(new RangeError('irq must be an integer in [0, 23], got 24'));
      expect(() => m.irqchip!.setIrq(-1, true)).toThrow(RangeError);
      expect(() => m.vm.irqLine(1.5, true)).toThrow(RangeError);
    } finally {
      m.close();
    }
  });

  test('without an in-kernel IRQ chip a kvm line fails with the kernel\'s ENXIO, and the machine still works', () => {
    const m = Machine.createSync({ memory: '1M', mode: 'real', serial: false });
    try {
      expect(() => kvmIrqLine(m.vm, 4).set(true)).toThrow(expect.objectContaining({ name: 'KvmError', code: 'ENXIO' }));
      expect(() => m.vm.getIrqchip(0)).toThrow(KvmError);
      expect(() => m.vm.getPit2()).toThrow(KvmError);
      m.load(Uint8Array.of(0xb0, 0x21, 0xba, 0x01, 0x05, 0xee), { format: 'flat' });
      expect(m.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
    } finally {
      m.close();
    }
  });
});

describeKvm('typed irqchip, PIT and TSS calls of the VM', () => {
  test('chip and PIT state round-trip; malformed state is refused and changes nothing', () => {
    const m = Machine.createSync({ memory: '1M', serial: false, irqchip: true });
    try {
      const vm = m.vm;
      const master = vm.getIrqchip(0);
      expect(master.chipId).toBe(0);
      expect([vm.getIrqchip(1).chipId, vm.getIrqchip(2).chipId]).toEqual([1, 2]);
      const pit = vm.getPit2();
      vm.irqLine(6, true);
      expect(vm.getIrqchip(0).bytes).not.toEqual(master.bytes);
      vm.setIrqchip(master);
      vm.setPit2(pit);
      expect(vm.getIrqchip(0).bytes).toEqual(master.bytes);
      // (the PIT's state holds its count load time, which the kernel sets anew: only its size is stable)
      expect(vm.getPit2().bytes.length).toBe(pit.bytes.length);

      vm.irqLine(6, true);
      const now = vm.getIrqchip(0).bytes;
      expect(() => vm.getIrqchip(3 as never)).toThrow(new RangeError('chipId must be 0 (PIC master), 1 (PIC slave) or 2 (IOAPIC), got 3'));
      expect(() => vm.setIrqchip({ chipId: 0, bytes: master.bytes.subarray(1) })).toThrow(TypeError);
      const bogus = master.bytes.slice();
      bogus[0] = 7;
      expect(() => vm.setIrqchip({ chipId: 0, bytes: bogus })).toThrow(/names chip 7/);
      expect(() => vm.setPit2({ bytes: new Uint8Array(4) })).toThrow(TypeError);
      expect(() => vm.setIrqchip(null as never)).toThrow(TypeError);
      expect(vm.getIrqchip(0).bytes).toEqual(now);
      // the snapshot device refuses the same way, naming itself
      expect(() => m.irqchip!.loadState({ chips: [bogus, bogus, bogus] })).toThrow(
        new TypeError('kvm-irqchip state: chips must be the PIC master, PIC slave and IOAPIC structs'));
      expect(vm.getIrqchip(0).bytes).toEqual(now);
    } finally {
      m.close();
    }
  });

  test('createPit2 and setTssAddr check their arguments', () => {
    const m = Machine.createSync({ memory: '1M', serial: false });
    try {
      expect(() => m.vm.createPit2({} as never)).toThrow(new TypeError('createPit2() needs { speakerDummy: boolean }'));
      expect(() => m.vm.setTssAddr(2 ** 32)).toThrow(RangeError);
      expect(() => m.vm.setTssAddr('0' as never)).toThrow(RangeError);
    } finally {
      m.close();
    }
  });
});
