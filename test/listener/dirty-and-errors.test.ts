// Dirty logging (KVM_GET_DIRTY_LOG merged with host writes) and bad input:
// incongruent host/guest addresses, a full slot table, wrong arguments.
import { AddressSpace, MemoryRegion, transaction } from '../../lib/memory';
import { Kvm, KvmError, Vm } from '../../lib';
import { setupRealMode } from '../../lib/x86/modes';
import { describeKvm } from '../helpers/kvm';

describeKvm('KVM memory listener: dirty pages', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  test('guest writes (KVM log) and host writes (as.write) are merged, cleared on read, and survive a slot re-map', () => {
    const system = MemoryRegion.container('system', 1n << 64n);
    const ram = MemoryRegion.ram('ram', 0x10000n);
    system.addSubregion(0n, ram);
    const as = new AddressSpace(system, 'memory');
    const vm = kvm.createVm();
    const cover = MemoryRegion.io('cover', 0x1000n);
    try {
      // mov byte [0x3000],1 ; mov byte [0x5000],1 ; hlt ; mov byte [0x6000],1 ; hlt
      ram.bytes().set([0xc6, 0x06, 0x00, 0x30, 0x01, 0xc6, 0x06, 0x00, 0x50, 0x01, 0xf4,
        0xc6, 0x06, 0x00, 0x60, 0x01, 0xf4], 0x1000);
      const trace: string[] = [];
      vm.addAddressSpace(as, { trace: (l) => trace.push(l) });
      ram.setDirtyLogging(true);
      expect(trace).toHaveLength(2); // the replay's add, then one flags-only update
      expect(trace[1]).toMatch(/^kvm_set_user_memory Slot#0 flags=0x1 gpa=0x0 size=0x10000 /);
      expect(vm.slots()[0].flags).toBe(1);
      vm.getDirtyPages(ram); // start from a clean log
      const vcpu = vm.createVcpu(0);
      setupRealMode(vcpu, { cs: 0, ip: 0x1000 });
      expect(vcpu.run().reason).toBe('hlt');
      expect(as.write(0x7004n, [1, 2, 3])).toBe(0);
      expect(vm.getDirtyPages(ram)).toEqual([0x3000n, 0x5000n, 0x7000n]);
      expect(vm.getDirtyPages(ram)).toEqual([]);

      // guest dirties 0x6000, then the slot is split by an MMIO page on top:
      // the bits are collected before the old slot is deleted
      expect(vcpu.run().reason).toBe('hlt');
      system.addSubregionOverlap(0x8000n, cover, 1);
      expect(vm.slots().map((s) => [s.guestPhysAddr, s.memorySize, s.flags])).toEqual([[0n, 0x8000n, 1], [0x9000n, 0x7000n, 1]]);
      expect(vm.getDirtyPages(ram)).toEqual([0x6000n]);

      expect(() => vm.getDirtyPages(cover)).toThrow(TypeError);
    } finally {
      vm.close();
      as.destroy();
      for (const mr of [cover, ram, system]) mr.close();
    }
  });
});

describeKvm('KVM memory listener: bad input', () => {
  let kvm: Kvm;
  let vm: Vm;
  const regions: MemoryRegion[] = [];
  let as: AddressSpace;
  let system: MemoryRegion;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());
  beforeEach(() => {
    vm = kvm.createVm();
    system = MemoryRegion.container('system', 1n << 64n);
    as = new AddressSpace(system, 'memory');
  });
  afterEach(() => {
    vm.close();
    as.destroy();
    for (const mr of regions.splice(0).reverse()) mr.close();
    system.close();
  });
  const ram = (name: string, size: bigint) => {
    const mr = MemoryRegion.ram(name, size);
    regions.push(mr);
    return mr;
  };

  test('host memory not congruent with the guest address modulo the page: trapped with a warning, no ioctl, rest mapped', () => {
    const low = ram('low', 0x10000n);
    const big = ram('big', 0x20000n);
    const trace: string[] = [];
    system.addSubregion(0n, low);
    vm.addAddressSpace(as, { trace: (l) => trace.push(l) });
    trace.length = 0;
    // QEMU's max-ram-below-4g=0x4000800 case in small: RAM offset 0x800 at a page-aligned GPA
    const skew = MemoryRegion.alias('skew', big, 0x800n, 0x10000n);
    regions.push(skew);
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let calls: unknown[][];
    try {
      system.addSubregion(0x100000n, skew); // no throw (QEMU aborts here)
      calls = [...warn.mock.calls];
    } finally {
      warn.mockRestore();
    }
    expect(calls).toHaveLength(1);
    expect(calls[0][0]).toMatch(/RAM range 0x100000\.\.0x10ffff of "big" gets no KVM slot: .*differ modulo 4 KiB/);
    expect(calls[0][1]).toMatchObject({ code: 'NODE_KVM_UNSLOTTABLE' });
    expect(trace).toEqual([]); // nothing was given to KVM
    expect(vm.slots().map((s) => s.guestPhysAddr)).toEqual([0n]);
    expect(vm.trapped()).toEqual([{ start: 0x100000n, size: 0x10000n, reason: 'incongruent', asId: 0, region: 'big' }]);
    expect(as.formatFlatView()).toContain('0000000000100000-000000000010ffff (prio 0, ram): big @0000000000000800\n');
    // the table stays usable: the next change maps normally
    const more = ram('more', 0x1000n);
    system.addSubregion(0x200000n, more);
    expect(vm.slots().map((s) => s.guestPhysAddr)).toEqual([0n, 0x200000n]);
    expect(trace).toHaveLength(1);
  });

  test('slot table full: KvmError ENOSPC, the table stays what the kernel has, the section is placed once a slot frees', () => {
    const trace: string[] = [];
    const mrs = [0, 1, 2, 3].map((i) => ram(`r${i}`, 0x1000n));
    transaction(() => mrs.slice(0, 3).forEach((mr, i) => system.addSubregion(BigInt(i) * 0x10000n, mr)));
    vm.addAddressSpace(as, { maxSlots: 3, trace: (l) => trace.push(l) });
    trace.length = 0;
    let err: unknown;
    try {
      system.addSubregion(0x30000n, mrs[3]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvmError);
    expect((err as KvmError).code).toBe('ENOSPC');
    expect((err as KvmError).syscall).toBe('KVM_SET_USER_MEMORY_REGION');
    expect(trace).toEqual([]);
    expect(vm.slots().map((s) => [s.slot, s.guestPhysAddr])).toEqual([[0, 0n], [1, 0x10000n], [2, 0x20000n]]);
    expect(vm.memoryListeners[0].unplacedCount).toBe(1);
    expect(as.formatFlatView()).toContain('0000000000030000-0000000000030fff (prio 0, ram): r3\n'); // no KVM

    system.removeSubregion(mrs[1]); // frees slot 1; the waiting section takes it in the same commit
    expect(vm.slots().map((s) => [s.slot, s.guestPhysAddr])).toEqual([[0, 0n], [2, 0x20000n], [1, 0x30000n]]);
    expect(trace).toEqual([
      expect.stringMatching(/^kvm_set_user_memory Slot#1 flags=0x0 gpa=0x10000 size=0x0 /),
      expect.stringMatching(/^kvm_set_user_memory Slot#1 flags=0x0 gpa=0x30000 size=0x1000 /),
    ]);
    expect(vm.memoryListeners[0].unplacedCount).toBe(0);
  });

  test('wrong arguments are typed errors and register nothing', () => {
    expect(() => vm.addAddressSpace({} as AddressSpace)).toThrow(TypeError);
    expect(() => vm.addAddressSpace(as, { asId: 1 })).toThrow(KvmError); // no KVM_CAP_MULTI_ADDRESS_SPACE here
    expect(() => vm.addAddressSpace(as, { maxSlotSize: 0x1234n })).toThrow(RangeError);
    expect(() => vm.addAddressSpace(as, { maxSlots: 0 })).toThrow(RangeError);
    expect(as.listeners).toHaveLength(0);
    vm.addAddressSpace(as);
    expect(() => vm.addAddressSpace(as)).toThrow(RangeError);
    expect(as.listeners).toHaveLength(1);
  });

  test('closing a mapped RAM region deletes its slot first, so its memory can be freed', () => {
    const r = ram('gone', 0x2000n);
    system.addSubregion(0x40000n, r);
    vm.addAddressSpace(as);
    expect(vm.slots()).toHaveLength(1);
    r.close();
    expect(vm.slots()).toEqual([]);
    expect(r.ramBlock!.freed).toBe(true);
  });
});
