// The run loop on real KVM: every way a run can end, string I/O, MMIO sizes,
// device errors. Expected values come from the guest programs in test/guests.
import { DeviceError } from '../../lib';
import { MemoryRegion } from '../../lib/memory';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';

const LOAD = 0x100000n;

describeKvm('run loop', () => {
  test('rep outsb/outsw and rep insb/insw: every element reaches the device in order, with its size', async () => {
    const { machine } = await testMachine();
    try {
      const writes: [number, number, number][] = [];
      let inByte = 0xa0;
      let inWord = 0x1000;
      const reads: [number, number][] = [];
      const dev = MemoryRegion.io('strdev', 0x20, {
        write: (off, value, size) => { writes.push([Number(off), Number(value), size]); },
        read: (off, size) => {
          reads.push([Number(off), size]);
          return size === 1 ? inByte++ : inWord++;
        },
        valid: { maxAccessSize: 2 },
        impl: { maxAccessSize: 2 },
      });
      machine.memory.ioRoot.addSubregion(0x600n, dev);
      machine.load(assemble('string-io.S'));
      const r = await machine.run({ timeoutMs: 10000 });
      expect(r.reason).toBe('hlt');
      expect(writes).toEqual([
        ...[...'hello'].map((c) => [0, c.charCodeAt(0), 1]),
        [2, 0x1234, 2], [2, 0x5678, 2], [2, 0x9abc, 2],
      ]);
      expect(reads).toEqual([...Array(6).fill([0x10, 1]), ...Array(4).fill([0x12, 2])]);
      expect([...machine.readGuest(0x200000n, 6)]).toEqual([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5]);
      expect([...machine.readGuest(0x200100n, 8)]).toEqual([0x00, 0x10, 0x01, 0x10, 0x02, 0x10, 0x03, 0x10]);
      machine.memory.ioRoot.removeSubregion(dev);
      dev.close();
    } finally {
      machine.close();
    }
  });

  test('1/2/4/8-byte MMIO reads and writes reach the device with the right size and value', async () => {
    const { machine } = await testMachine();
    try {
      const writes: [number, bigint, number][] = [];
      const reads: [number, number][] = [];
      const values: Record<number, bigint> = { 0x10: 0xabn, 0x12: 0xcdefn, 0x14: 0x01234567n, 0x18: 0xfedcba9876543210n };
      const dev = MemoryRegion.io('sizes', 0x1000, {
        write: (off, value, size) => { writes.push([Number(off), value, size]); },
        read: (off, size) => { reads.push([Number(off), size]); return values[Number(off)] ?? 0n; },
        valid: { minAccessSize: 1, maxAccessSize: 8 },
        impl: { minAccessSize: 1, maxAccessSize: 8 },
      });
      machine.memory.root.addSubregion(0xd0000000n, dev);
      machine.load(assemble('mmio-sizes.S'));
      const r = await machine.run({ timeoutMs: 10000 });
      expect(r.reason).toBe('hlt');
      expect(writes).toEqual([[0, 0x11n, 1], [2, 0x2233n, 2], [4, 0x44556677n, 4], [8, 0x8899aabbccddeeffn, 8]]);
      expect(reads).toEqual([[0x10, 1], [0x12, 2], [0x14, 4], [0x18, 8]]);
      const regs = machine.vcpu.getRegs();
      expect([regs.r8, regs.r9, regs.r10, regs.r11]).toEqual([0xabn, 0xcdefn, 0x01234567n, 0xfedcba9876543210n]);
    } finally {
      machine.close();
    }
  });

  test('a triple fault is reported (as the exception the guest without an IDT took); the process and the machine stay usable', async () => {
    const { machine, output } = await testMachine();
    try {
      machine.load(assemble('triple-fault.S'));
      const r = await machine.run({ timeoutMs: 10000 });
      expect(r).toMatchObject({ reason: 'exception', vector: 6 }); // ud2 with an empty IDT (issue 15)
      expect(r.message).toMatch(/triple fault/);
      // Same VM, fresh state: another guest runs to its debug exit.
      machine.load(assemble('mode-long.S'));
      const again = await machine.run({ timeoutMs: 10000 });
      expect(again).toMatchObject({ reason: 'debugExit', exitCode: 0x61 });
      expect(output()).toBe('long64');
    } finally {
      machine.close();
    }
  });

  test('timeoutMs stops a loop without exits and a loop of exits; maxExits stops after exactly N exits', async () => {
    const { machine } = await testMachine();
    try {
      let port80 = 0;
      const dev = MemoryRegion.io('post', 1, { write: () => { port80++; } });
      machine.memory.ioRoot.addSubregion(0x80n, dev);
      machine.load(assemble('runaway.S'));
      const t0 = Date.now();
      const r = machine.runSync({ timeoutMs: 200 });
      const took = Date.now() - t0;
      expect(r.reason).toBe('timeout');
      expect(r.rip).toBe(LOAD); // the jmp-to-self
      expect(took).toBeGreaterThanOrEqual(195);
      expect(took).toBeLessThan(2000);

      machine.load(assemble('runaway.S'), { entry: LOAD + 0x10n });
      const r2 = await machine.run({ timeoutMs: 150 });
      expect(r2.reason).toBe('timeout');
      expect(r2.exits).toBeGreaterThan(0);
      expect(port80).toBe(r2.exits);

      port80 = 0;
      const r3 = machine.runSync({ maxExits: 25 });
      expect(r3).toMatchObject({ reason: 'maxExits', exits: 25 });
      expect(port80).toBe(25);
      // immediate_exit was cleared: the next run makes progress again
      const r4 = machine.runSync({ maxExits: 3, timeoutMs: 5000 });
      expect(r4).toMatchObject({ reason: 'maxExits', exits: 3 });
    } finally {
      machine.close();
    }
  });

  test('a throwing device callback surfaces as DeviceError naming device, port and RIP; the VM stays usable', async () => {
    const { machine } = await testMachine();
    try {
      const seen: number[] = [];
      const dev = MemoryRegion.io('grumpy', 1, {
        write: (_off, value) => {
          seen.push(Number(value));
          if (value === 1n) throw new Error('value 1 is not allowed');
        },
      });
      machine.memory.ioRoot.addSubregion(0x700n, dev);
      const code = assemble('throwing-device.S');
      machine.load(code);
      const err = await machine.run({ timeoutMs: 10000 }).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(DeviceError);
      expect(err).toMatchObject({ device: 'grumpy', space: 'io', address: 0x700n, isWrite: true, size: 1 });
      expect(err.message).toMatch(/device "grumpy" threw on a 1-byte write at port 0x700 \(guest RIP 0x[0-9a-f]+\): value 1 is not allowed/);
      // RIP is inside the guest, at or just past the faulting out (offset 7 or 8).
      expect(err.rip >= LOAD && err.rip <= LOAD + 8n).toBe(true);
      const r = await machine.run({ timeoutMs: 10000 });
      expect(r).toMatchObject({ reason: 'debugExit', exitCode: 0xf });
      expect(seen).toEqual([1, 2]);
    } finally {
      machine.close();
    }
  });

  test('a throwing MMIO read names the region and the guest-physical address', async () => {
    const { machine } = await testMachine();
    try {
      const dev = MemoryRegion.io('broken-mmio', 0x1000, {
        read: () => { throw new RangeError('no such register'); },
        write: () => undefined,
        valid: { maxAccessSize: 8 }, impl: { maxAccessSize: 8 },
      });
      machine.memory.root.addSubregion(0xd0000000n, dev);
      machine.load(assemble('mmio-sizes.S'));
      const err = await machine.run({ timeoutMs: 10000 }).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(DeviceError);
      expect(err).toMatchObject({ device: 'broken-mmio', space: 'memory', address: 0xd0000010n, isWrite: false, size: 1 });
      expect(err.message).toMatch(/address 0xd0000010/);
    } finally {
      machine.close();
    }
  });

  test('an instruction KVM cannot emulate gives a readable internalError (RIP, bytes, advice)', async () => {
    const { machine } = await testMachine();
    try {
      machine.load(assemble('popcnt.S'));
      const r = await machine.run({ timeoutMs: 10000 });
      if (r.reason === 'hlt') {
        // This host executes popcnt: nothing to report, but say so.
        console.warn('popcnt ran without an emulation failure on this host');
        return;
      }
      expect(r.reason).toBe('internalError');
      expect(r.rip).toBe(LOAD + 5n); // after the 5-byte mov
      expect(r.message).toContain('RIP 0x100005');
      expect(r.message).toContain('f3 0f b8 d8');
      expect(r.message).toMatch(/popcnt/);
      expect(r.message).toMatch(/ring 3/);
    } finally {
      machine.close();
    }
  });

  test('bad options are refused before anything runs', async () => {
    const { machine } = await testMachine();
    try {
      await expect(machine.run({ timeoutMs: -1 })).rejects.toThrow(RangeError);
      expect(() => machine.runSync({ maxExits: 1.5 })).toThrow(RangeError);
      expect(() => machine.runSync({ trace: 'yes' as never })).toThrow(TypeError);
    } finally {
      machine.close();
    }
  });
});
