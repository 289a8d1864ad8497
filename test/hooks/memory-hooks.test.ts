// machine.hooks.memory (issue 15): a hook on a guest RAM range sees every
// guest read and write there (size, value, old value, RIP), in ring 0 and in
// ring 3, because the range's pages leave the KVM slots and their accesses
// exit; the rest of RAM keeps its slots; removing the hook gives the slot
// back with the fewest slot ioctls; the flat view does not change.
import { DeviceError, KvmError } from '../../lib';
import { MemoryRegion } from '../../lib/memory';
import type { MemoryAccess } from '../../lib/machine-hooks';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';

const LOAD = 0x100000n;
const W = 0x200000n;

/** The guest's RIP table (memory-hooks.S): the last 13 quads are offsets from its start. */
function ripsOf(img: Uint8Array): bigint[] {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  return Array.from({ length: 13 }, (_, i) => LOAD + dv.getBigUint64(img.length - 13 * 8 + 8 * i, true));
}

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

describeKvm('machine.hooks.memory', () => {
  async function hookedMachine() {
    const slotIoctls: string[] = [];
    const t = await testMachine({ mode: 'long', memory: '4M', traceSlots: (l) => slotIoctls.push(l) });
    const img = assemble('memory-hooks.S');
    t.machine.load(img);
    const w = (off: bigint, bytes: number[]) => t.machine.writeGuest(W + off, new Uint8Array(bytes));
    w(0x40n, [0xfe, 0xca, 0x0d, 0x60]);
    w(0x200n, [0xce, 0xfa, 0xed, 0xfe]);
    w(0x300n, [0x11, 0x11, 0x22, 0x22]);
    slotIoctls.length = 0; // (the machine's own)
    return { ...t, img, rips: ripsOf(img), slotIoctls };
  }

  test('sees every read and write of the range with size, value, old value and RIP, in ring 0 and ring 3; nothing else exits', async () => {
    const { machine, rips, slotIoctls } = await hookedMachine();
    try {
      const flatBefore = machine.mtree({ flat: true });
      const seen: (MemoryAccess & { cpl: number })[] = [];
      const hook = machine.hooks.memory({ start: W + 0x100n, end: W + 0x10fn, access: 'access' },
        (a) => seen.push({ ...a, cpl: machine.vcpu.getSregs().cs.selector & 3 }));
      expect(hook).toMatchObject({ start: W + 0x100n, end: W + 0x10fn, access: 'access' });
      // the page left its slot (delete, then the two sides): the flat view and `info mtree -f` are unchanged
      expect(slotIoctls).toHaveLength(3);
      expect(machine.vm.slots().map((s) => [s.guestPhysAddr, s.memorySize])).toEqual([[0n, W], [W + 0x1000n, 0x400000n - W - 0x1000n]]);
      expect(machine.vm.trapped()).toEqual([{ start: W, size: 0x1000n, reason: 'watched', asId: 0, region: 'ram' }]);
      expect(machine.mtree({ flat: true })).toBe(flatBefore);

      // [write?, offset in W, size, value, old value, RIP = rips[i]]: KVM reports a read at its
      // instruction and a write once the instruction completed (at the next one), except
      // inside a rep string instruction, which is still at itself
      const R = (off: number, size: number, value: bigint, rip: number) => ({ isWrite: false, address: W + BigInt(off), size, value, oldValue: undefined, rip: rips[rip] });
      const Wr = (off: number, size: number, value: bigint, old: bigint, rip: number) => ({ isWrite: true, address: W + BigInt(off), size, value, oldValue: old, rip: rips[rip] });
      const expected = (first: boolean) => [
        Wr(0x100, 4, 0x11223344n, first ? 0n : 0xcafen, 1), // a0 movl
        R(0x100, 4, 0x11223344n, 1), // a1 mov
        Wr(0x108, 8, 0x8877665544332211n, first ? 0n : 0x5an, 3), // a2 mov %rcx
        R(0x100, 4, 0x11223344n, 3), Wr(0x100, 4, 0x11223345n, 0x11223344n, 4), // a3 addl: read, then write
        // a4, a5: unhooked bytes of the page, not reported
        Wr(0x10c, 1, 0xabn, 0x55n, 6), Wr(0x10d, 1, 0xabn, 0x66n, 6), Wr(0x10e, 1, 0xabn, 0x77n, 6), Wr(0x10f, 1, 0xabn, 0x88n, 6), // a6 rep stosb
        Wr(0x104, 2, 0x1111n, first ? 0n : 0x1111n, 7), Wr(0x106, 2, 0x2222n, first ? 0n : 0x2222n, 7), // a7 rep movsw (its reads are unhooked)
        Wr(0x108, 8, 0x5an, 0xabababab44332211n, 9), // a8 push
        R(0x108, 8, 0x5an, 9), // a9 pop
        R(0x100, 4, 0x11223345n, 10), Wr(0x100, 4, 0xcafen, 0x11223345n, 11), // a10 xchg
      ].map((a) => ({ ...a, vcpu: 0 }));

      const mmio: string[] = [];
      const trace = (l: string) => { if (l.startsWith('mmio')) mmio.push(l); };
      let r = await machine.run({ timeoutMs: 20000, trace });
      expect(r.reason).toBe('hlt');
      expect(seen).toEqual(expected(true).map((a) => ({ ...a, cpl: 0 })));
      // the unhooked bytes of the hooked page were read and written (through the model)
      const regs = machine.vcpu.getRegs();
      expect(regs.r8 & 0xffffffffn).toBe(0xfeedfacen);
      expect(regs.rdi & 0xffffffffn).toBe(0x600dcafen);
      expect(regs.rdx).toBe(0x5an);
      expect(u32(machine.readGuest(W + 0x204n, 4), 0)).toBe(0x55667788);
      expect(u32(machine.readGuest(W + 0x100n, 4), 0)).toBe(0xcafe);
      // only the hooked page exited: code, stack and the rest of RAM ran from their slots
      expect(mmio.length).toBeGreaterThan(0);
      for (const l of mmio) expect(l).toMatch(/^mmio (read |write) 0x200[0-9a-f]{3} /);

      seen.length = 0;
      r = await machine.run({ timeoutMs: 20000 });
      expect(r.rip).toBe(rips[12]); // the ring-3 ud2 the guest ends with
      expect(seen).toEqual(expected(false).map((a) => ({ ...a, cpl: 3 })));

      // removal: the page goes back; one slot again (delete the two sides, add one)
      slotIoctls.length = 0;
      hook.remove();
      hook.remove(); // idempotent
      expect(slotIoctls).toHaveLength(3);
      expect(machine.vm.slots().map((s) => [s.guestPhysAddr, s.memorySize])).toEqual([[0n, 0x400000n]]);
      expect(machine.vm.trapped()).toEqual([]);
      expect(machine.mtree({ flat: true })).toBe(flatBefore);
    } finally {
      machine.close();
    }
  });

  test("'read' and 'write' hooks see only their kind; a write-only page keeps a read-only slot; overlapping hooks share the page", async () => {
    const { machine, slotIoctls, img } = await hookedMachine();
    try {
      const reads: bigint[] = [];
      const writes: bigint[] = [];
      const one: bigint[] = [];
      const slotsBefore = machine.vm.slots();
      const flatBefore = machine.mtree({ flat: true });
      const w = machine.hooks.memory({ start: W + 0x100n, end: W + 0x10fn, access: 'write' }, (a) => writes.push(a.address));
      // a write hook: the page gets a read-only slot (KVM_MEM_READONLY), so only writes exit
      expect(slotIoctls).toHaveLength(4);
      expect(machine.vm.slots().map((s) => [s.guestPhysAddr, s.memorySize, s.flags])).toEqual([[0n, W, 0], [W, 0x1000n, 2], [W + 0x1000n, 0x400000n - W - 0x1000n, 0]]);
      expect(machine.vm.trapped()).toEqual([]);
      expect(machine.mtree({ flat: true })).toBe(flatBefore);
      const mmio: string[] = [];
      expect((await machine.run({ timeoutMs: 20000, trace: (l) => { if (l.startsWith('mmio')) mmio.push(l); } })).reason).toBe('hlt'); // ring 0
      const writeOffsets = [0x100n, 0x108n, 0x100n, 0x10cn, 0x10dn, 0x10en, 0x10fn, 0x104n, 0x106n, 0x108n, 0x100n];
      expect(writes).toEqual(writeOffsets.map((o) => W + o));
      expect(mmio.filter((l) => l.startsWith('mmio read'))).toEqual([]);
      expect(mmio).toHaveLength(writeOffsets.length + 1); // and a5's unhooked write to the page
      expect(machine.vcpu.getRegs().r8 & 0xffffffffn).toBe(0xfeedfacen); // a read of the page, from its slot
      writes.length = 0;
      expect((await machine.run({ timeoutMs: 20000 })).reason).toBe('exception'); // ring 3: the same writes exit
      expect(writes).toEqual(writeOffsets.map((o) => W + o));

      machine.load(img); // the ring-0 half again
      slotIoctls.length = 0;
      writes.length = 0;
      const r = machine.hooks.memory({ start: Number(W + 0x100n), end: Number(W + 0x103n), access: 'read' }, (a) => reads.push(a.address));
      const b = machine.hooks.memory({ start: W + 0x10fn, end: W + 0x10fn }, (a) => one.push(a.address)); // one byte, default 'access'
      expect(slotIoctls).toHaveLength(1); // the read-only slot goes; the third hook changes nothing
      expect(machine.vm.trapped()).toEqual([{ start: W, size: 0x1000n, reason: 'watched', asId: 0, region: 'ram' }]);
      expect((await machine.run({ timeoutMs: 20000 })).reason).toBe('hlt');
      expect(reads).toEqual([W + 0x100n, W + 0x100n, W + 0x100n]); // a1, a3, a10
      expect(writes).toEqual(writeOffsets.map((o) => W + o));
      expect(one).toEqual([0x108n, 0x10fn, 0x108n, 0x108n].map((o) => W + o)); // every access touching the byte: a2, stosb, push, pop

      slotIoctls.length = 0;
      r.remove();
      b.remove();
      expect(slotIoctls).toHaveLength(1); // the write hook still holds the page: its read-only slot again
      slotIoctls.length = 0;
      w.remove();
      expect(slotIoctls).toHaveLength(4); // three slots go, one comes
      expect(machine.vm.slots()).toEqual(slotsBefore);
    } finally {
      machine.close();
    }
  });

  test('a hooked ROM page stays read-only: the dropped write is reported with the ROM bytes as old value', async () => {
    const { machine } = await testMachine({ mode: 'long', memory: '4M' });
    const rom = MemoryRegion.rom('test.rom', 0x1000);
    try {
      rom.bytes().set([0x78, 0x56, 0x34, 0x12]);
      machine.memory.root.addSubregion(0x800000n, rom);
      expect(machine.vm.slots().some((s) => s.guestPhysAddr === 0x800000n && s.flags === 2)).toBe(true);
      machine.load(assemble('hooks-rom.S'));
      const seen: string[] = [];
      const h = machine.hooks.memory({ start: 0x800000, end: 0x800fff }, (a) => seen.push(`${a.isWrite ? 'W' : 'R'} ${a.value.toString(16)} ${a.oldValue?.toString(16)}`));
      expect(machine.vm.slots().some((s) => s.guestPhysAddr === 0x800000n)).toBe(false);
      expect((await machine.run({ timeoutMs: 20000 })).reason).toBe('hlt');
      expect(seen).toEqual(['R 12345678 undefined', 'W 12345678 12345678', 'R 12345678 undefined']);
      const regs = machine.vcpu.getRegs();
      expect(regs.rax).toBe(0x12345678n);
      expect(regs.rcx).toBe(0x12345678n);
      h.remove();
      expect(machine.vm.slots().some((s) => s.guestPhysAddr === 0x800000n && s.flags === 2)).toBe(true);
    } finally {
      machine.close();
      rom.close();
    }
  });

  test('a hook that throws ends the run with a DeviceError; one that calls stop() ends it after the access', async () => {
    const { machine, rips } = await hookedMachine();
    try {
      const h = machine.hooks.memory({ start: W + 0x100n, end: W + 0x103n, access: 'read' }, () => { throw new Error('seen enough'); });
      const err = await machine.run({ timeoutMs: 20000 }).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(DeviceError);
      expect(err).toMatchObject({ device: 'memory hook', address: W + 0x100n, isWrite: false, size: 4, rip: rips[1] });
      expect(err.message).toMatch(/seen enough/);
      h.remove();
      let n = 0;
      machine.hooks.memory({ start: W + 0x100n, end: W + 0x10fn, access: 'write' }, () => { n++; machine.stop('watchpoint'); });
      const r = await machine.run({ timeoutMs: 20000 });
      expect(r).toMatchObject({ reason: 'stopped', message: 'watchpoint' });
      expect(n).toBe(1);
      expect(r.rip).toBe(rips[3]); // a2's write stopped the run; the pending a1 read was finished
    } finally {
      machine.close();
    }
  });

  test('bad input: typed errors, nothing changes, the machine stays usable', async () => {
    const { machine } = await hookedMachine();
    try {
      const slots = machine.vm.slots();
      const cb = () => undefined;
      const add = (range: unknown, ...f: unknown[]) => () => machine.hooks.memory(range as never, (f.length === 0 ? cb : f[0]) as never);
      expect(add({ start: 0x2000, end: 0x1fff })).toThrow(new RangeError('machine.hooks.memory(): start 0x2000 is above end 0x1fff (end is the last byte, inclusive)'));
      expect(add({ start: 0, end: 1, access: 'exec' })).toThrow(RangeError);
      expect(add({ start: 0, end: 1, access: 'exec' })).toThrow(/access must be 'read', 'write' or 'access'/);
      expect(add({ start: 0, end: 1 }, 'cb')).toThrow(new TypeError('machine.hooks.memory() expects a callback function (access) => void as its second argument'));
      expect(add({ start: 0, end: 1 }, undefined)).toThrow(TypeError);
      expect(add(null)).toThrow(TypeError);
      expect(add({ start: 0, end: 1, acess: 'read' })).toThrow(/unknown option 'acess'/);
      expect(add({ start: -1, end: 1 })).toThrow(RangeError);
      expect(add({ start: 0, end: 1n << 64n })).toThrow(RangeError);
      expect(add({ start: 0.5, end: 1 })).toThrow(RangeError);
      expect(add({ start: '0', end: 1 })).toThrow(TypeError);
      expect(machine.vm.slots()).toEqual(slots);
      expect(machine.vm.trapped()).toEqual([]);
      // the top of the address space is a valid (unmapped) range: no slot changes
      machine.hooks.memory({ start: (1n << 64n) - 16n, end: (1n << 64n) - 1n }, cb).remove();
      expect(machine.vm.slots()).toEqual(slots);
      expect((await machine.run({ timeoutMs: 20000 })).reason).toBe('hlt');
    } finally {
      machine.close();
    }
    expect(() => machine.hooks.memory({ start: 0, end: 1 }, () => undefined)).toThrow(KvmError);
  });
});
