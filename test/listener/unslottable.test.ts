// Ranges KVM cannot take (issue 10 item 10): an alias into RAM at an odd
// offset (host and guest addresses incongruent modulo the page) and a RAM
// region that ends at 2^64 (above the guest's physical-address width).
// Attaching must not fail half-way: those ranges get no slot and are trapped
// (their guest accesses exit and go through the model), reported by a
// warning and by trapped(); every other range is a slot, the listener stays
// registered, and later changes still reach KVM.
import { AddressSpace, MemoryRegion, transaction } from '../../lib/memory';
import { Kvm, KvmError, RunLoop, setupProtectedMode } from '../../lib';
import { UNSLOTTABLE_WARNING } from '../../lib/kvm/memory-listener';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { slotsForFlatView, slotTable } from '../helpers/slots';

const TOP = (1n << 64n) - 0x1000n;

/** Runs fn with process.emitWarning recorded (and silenced); returns its calls. */
function warningsOf(fn: () => void): unknown[][] {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    fn();
    return [...spy.mock.calls];
  } finally {
    spy.mockRestore();
  }
}

describeKvm('KVM memory listener: ranges KVM cannot take are trapped', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  function build() {
    const system = MemoryRegion.container('system', 1n << 64n);
    const ram = MemoryRegion.ram('ram', 0x100000n);
    const big = MemoryRegion.ram('big', 0x10000n);
    const skew = MemoryRegion.alias('skew', big, 0x800n, 0x2000n);
    const gone = MemoryRegion.ram('gone', 0x1000n);
    const top = MemoryRegion.ram('top', 0x1000n);
    transaction(() => {
      system.addSubregion(0n, ram);
      system.addSubregion(0x200000n, skew);
      system.addSubregion(0x300000n, gone);
      system.addSubregion(TOP, top);
    });
    const as = new AddressSpace(system, 'memory');
    const ioRoot = MemoryRegion.io('io', 0x10000n);
    const io = new AddressSpace(ioRoot, 'I/O');
    const close = () => {
      as.destroy();
      io.destroy();
      for (const mr of [skew, top, gone, big, ram, ioRoot, system]) mr.close();
    };
    return { system, ram, big, skew, gone, top, as, io, close };
  }

  test('attach maps the rest, reports the trapped ranges once, and a later disable reaches KVM (guest-checked)', () => {
    const m = build();
    const vm = kvm.createVm();
    try {
      let listener!: ReturnType<typeof vm.addAddressSpace>;
      const warnings = warningsOf(() => {
        listener = vm.addAddressSpace(m.as);
      });
      expect(m.as.listeners).toContain(listener);
      expect(slotTable(vm)).toEqual(['0+100000:0', '300000+1000:0']);
      expect(slotTable(vm)).toEqual(slotsForFlatView(m.as).filter((s) => !s.startsWith('fffffffffffff000')));
      expect(vm.trapped()).toEqual([
        { start: 0x200000n, size: 0x2000n, reason: 'incongruent', asId: 0, region: 'big' },
        { start: TOP, size: 0x1000n, reason: 'above-phys-bits', asId: 0, region: 'top' },
      ]);
      expect(listener.trapped()).toEqual(vm.trapped());
      expect(warnings.map((w) => (w[1] as { code: string }).code)).toEqual([UNSLOTTABLE_WARNING, UNSLOTTABLE_WARNING]);
      expect(warnings[0][0]).toMatch(/RAM range 0x200000\.\.0x201fff of "big" gets no KVM slot: .*modulo 4 KiB/);
      expect(warnings[1][0]).toMatch(/RAM range 0xfffffffffffff000\.\.0xffffffffffffffff of "top" gets no KVM slot: .*above 2\^\d+, the guest's physical-address width.*not a lack of host memory/);
      // ` KVM` marks follow the slots (QEMU's has_memory): trapped ranges have none
      const flat = m.as.formatFlatView();
      expect(flat).toContain('0000000000000000-00000000000fffff (prio 0, ram): ram KVM\n');
      expect(flat).toContain('0000000000200000-0000000000201fff (prio 0, ram): big @0000000000000800\n');
      expect(flat).toContain('0000000000300000-0000000000300fff (prio 0, ram): gone KVM\n');
      expect(flat).toContain('fffffffffffff000-ffffffffffffffff (prio 0, ram): top\n');
      // the model reaches the range the guest cannot
      expect(m.as.write(TOP + 0xff8n, [1, 2, 3, 4, 5, 6, 7, 8])).toBe(0);
      expect([...m.top.bytes().subarray(0xff8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

      const big = m.big.bytes();
      new DataView(big.buffer, big.byteOffset).setUint32(0x810, 0xdeadbeef, true);
      new DataView(m.gone.bytes().buffer, m.gone.bytes().byteOffset).setUint32(0, 0x600d600d, true);
      const ram = m.ram.bytes();
      ram.set(assemble('trapped-ram.S', ['--32']), 0x1000);
      const vcpu = vm.createVcpu(0);
      setupProtectedMode(vcpu, (g, b) => ram.set(b, Number(g)), { gdtAddr: 0x500n, entry: 0x1000n, stack: 0x8000n });
      const loop = new RunLoop(vcpu, m.io, m.as);
      const exits: string[] = [];
      const trace = (l: string) => {
        if (l.startsWith('mmio')) exits.push(l);
      };

      expect(loop.run({ trace, maxExits: 100 }).reason).toBe('hlt');
      const r = vcpu.getRegs();
      expect(r.rax & 0xffffffffn).toBe(0xdeadbeefn); // the RAM bytes the model has at big+0x810
      expect(new DataView(big.buffer, big.byteOffset).getUint32(0x820, true)).toBe(0x11223344);
      expect(r.rbx & 0xffffffffn).toBe(0x600d600dn);
      expect(new DataView(m.gone.bytes().buffer, m.gone.bytes().byteOffset).getUint32(4, true)).toBe(0xcafef00d);
      // only the trapped range exited; the slotted RAM was accessed directly
      expect(exits).toEqual(['mmio read  0x200010 len=4', 'mmio write 0x200020 len=4 data=44 33 22 11']);

      // a change after the attach reaches KVM: the disabled region is unmapped for the guest
      m.gone.setEnabled(false);
      expect(slotTable(vm)).toEqual(['0+100000:0']);
      exits.length = 0;
      expect(loop.run({ trace, maxExits: 100 }).reason).toBe('hlt');
      expect(vcpu.getRegs().rcx & 0xffffffffn).toBe(0n); // unassigned reads as 0
      expect(exits).toEqual(['mmio read  0x300000 len=4', 'mmio write 0x300008 len=4 data=0d f0 ad 0b']);
      expect(new DataView(m.gone.bytes().buffer, m.gone.bytes().byteOffset).getUint32(8, true)).toBe(0);
      expect(vm.trapped().map((t) => t.reason)).toEqual(['incongruent', 'above-phys-bits']);
    } finally {
      vm.close();
      m.close();
    }
  });

  test('trapped ranges follow every commit: removed, moved onto a congruent offset, warned once per range', () => {
    const m = build();
    const vm = kvm.createVm();
    try {
      warningsOf(() => vm.addAddressSpace(m.as));
      // the same incongruent range again: no second warning
      const again = warningsOf(() => {
        m.skew.setEnabled(false);
        m.skew.setEnabled(true);
      });
      expect(again).toEqual([]);
      expect(vm.trapped().map((t) => t.start)).toEqual([0x200000n, TOP]);
      // a congruent alias offset makes it a slot
      warningsOf(() => m.skew.setAliasOffset(0x1000n));
      expect(vm.trapped().map((t) => t.reason)).toEqual(['above-phys-bits']);
      expect(slotTable(vm)).toEqual(['0+100000:0', '200000+2000:0', '300000+1000:0']);
      m.system.removeSubregion(m.top);
      expect(vm.trapped()).toEqual([]);
      expect(slotTable(vm)).toEqual(slotsForFlatView(m.as));
    } finally {
      vm.close();
      m.close();
    }
  });

  test('an attach that does fail (slot table full) is undone completely: no slot, no listener, and it can be retried', () => {
    const m = build();
    const vm = kvm.createVm();
    try {
      const trace: string[] = [];
      let err: unknown;
      warningsOf(() => {
        try {
          vm.addAddressSpace(m.as, { maxSlots: 1, trace: (l) => trace.push(l) });
        } catch (e) {
          err = e;
        }
      });
      expect(err).toBeInstanceOf(KvmError);
      expect((err as KvmError).code).toBe('ENOSPC');
      // the one slot it made was deleted again: the kernel and the table are empty
      expect(trace).toEqual([
        expect.stringMatching(/^kvm_set_user_memory Slot#0 flags=0x0 gpa=0x0 size=0x100000 .*ret=0$/),
        expect.stringMatching(/^kvm_set_user_memory Slot#0 flags=0x0 gpa=0x0 size=0x0 .*ret=0$/),
      ]);
      expect(vm.slots()).toEqual([]);
      expect(vm.memoryListeners).toEqual([]);
      expect(m.as.listeners).toEqual([]);
      warningsOf(() => vm.addAddressSpace(m.as));
      expect(slotTable(vm)).toEqual(['0+100000:0', '300000+1000:0']);
    } finally {
      vm.close();
      m.close();
    }
  });

  test('RAM straddling the guest physical-address width: the part below is a slot, the rest is trapped', () => {
    const system = MemoryRegion.container('system', 1n << 64n);
    const ram = MemoryRegion.ram('edge', 0x4000n);
    const as = new AddressSpace(system, 'memory');
    const vm = kvm.createVm();
    try {
      const bits = kvm.supportedCpuid().find((e) => e.function === 0x80000008)!.eax & 0xff;
      const limit = 1n << BigInt(bits);
      system.addSubregion(limit - 0x2000n, ram);
      const warnings = warningsOf(() => vm.addAddressSpace(as));
      expect(vm.slots().map((s) => [s.guestPhysAddr, s.memorySize])).toEqual([[limit - 0x2000n, 0x2000n]]);
      expect(vm.trapped()).toEqual([{ start: limit, size: 0x2000n, reason: 'above-phys-bits', asId: 0, region: 'edge' }]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0][0]).toContain(`above 2^${bits}, the guest's physical-address width`);
    } finally {
      vm.close();
      as.destroy();
      ram.close();
      system.close();
    }
  });

  test('sub-page RAM pieces are listed (QEMU drops them too) without a warning', () => {
    const system = MemoryRegion.container('system', 1n << 64n);
    const rom = MemoryRegion.rom('option.rom', 0x200n);
    const ram = MemoryRegion.ram('ram', 0x4000n);
    const part = MemoryRegion.alias('part', ram, 0x800n, 0x3000n);
    transaction(() => {
      system.addSubregion(0xe0000000n, rom);
      system.addSubregion(0x10800n, part); // congruent, but the head and tail pages are partial
    });
    const as = new AddressSpace(system, 'memory');
    const vm = kvm.createVm();
    try {
      const warnings = warningsOf(() => vm.addAddressSpace(as));
      expect(warnings).toEqual([]);
      expect(slotTable(vm)).toEqual(['11000+2000:0']);
      expect(vm.trapped()).toEqual([
        { start: 0x10800n, size: 0x800n, reason: 'sub-page', asId: 0, region: 'ram' },
        { start: 0x13000n, size: 0x800n, reason: 'sub-page', asId: 0, region: 'ram' },
        { start: 0xe0000000n, size: 0x200n, reason: 'sub-page', asId: 0, region: 'option.rom' },
      ]);
    } finally {
      vm.close();
      as.destroy();
      for (const mr of [rom, part, ram, system]) mr.close();
    }
  });
});
