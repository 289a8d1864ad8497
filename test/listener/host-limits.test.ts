// Guest RAM the host cannot back (issue 10 item 8).  A KVM slot on this host
// costs ~2.5 MiB of kernel memory per GiB when it is created, so a 16 TiB RAM
// region given to KVM sets off the OOM killer.  RAM beyond the limit
// (MemTotal + SwapTotal, or NODE_KVM_MAX_GUEST_RAM) is refused before
// anything is allocated or any ioctl is made.  Only the refusal is tested:
// nothing here ever gives KVM more than a few MiB.
import * as fs from 'fs';
import { AddressSpace, MemoryRegion, defaultRamList } from '../../lib/memory';
import { allocateHostMemory, GuestMemoryLimitError, guestMemoryLimit, Kvm, MAX_GUEST_RAM_ENV } from '../../lib';
import { describeKvm, mappingCount } from '../helpers/kvm';

const TiB = 1n << 40n;
const MiB = 1n << 20n;

function hostBytes(): bigint {
  const text = fs.readFileSync('/proc/meminfo', 'utf8');
  const kib = (f: string) => BigInt(new RegExp(`^${f}:\\s+(\\d+) kB$`, 'm').exec(text)![1]) * 1024n;
  return kib('MemTotal') + kib('SwapTotal');
}

/** Runs fn with NODE_KVM_MAX_GUEST_RAM set to `value` (undefined: unset). */
function withLimit<T>(value: string | undefined, fn: () => T): T {
  const old = process.env[MAX_GUEST_RAM_ENV];
  if (value === undefined) delete process.env[MAX_GUEST_RAM_ENV];
  else process.env[MAX_GUEST_RAM_ENV] = value;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env[MAX_GUEST_RAM_ENV];
    else process.env[MAX_GUEST_RAM_ENV] = old;
  }
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('guest RAM limit: RAM blocks', () => {
  test('a 16 TiB RAM region is refused before anything is allocated, with the limit and how to change it', () => {
    const blocks = defaultRamList.blocks.length;
    const maps = mappingCount();
    const err = withLimit(undefined, () => thrown(() => MemoryRegion.ram('huge', 16n * TiB)));
    expect(err).toBeInstanceOf(GuestMemoryLimitError);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as GuestMemoryLimitError).requested).toBe(16n * TiB);
    expect((err as GuestMemoryLimitError).limit).toBe(hostBytes());
    expect(err.message).toMatch(/^RAM block "huge": 16 TiB of guest RAM is more than this host can back: the limit is [\d.]+ GiB, from this host's MemTotal [\d.]+ GiB \+ SwapTotal [^ ]+ (bytes|[KMG]iB) \(\/proc\/meminfo\)\. .*set NODE_KVM_MAX_GUEST_RAM=<size>/);
    expect(defaultRamList.blocks.length).toBe(blocks);
    expect(mappingCount()).toBe(maps);
    expect(guestMemoryLimit().bytes).toBe(hostBytes());
  });

  test('NODE_KVM_MAX_GUEST_RAM lowers and raises the limit; a malformed value is a RangeError naming it', () => {
    const err = withLimit('8M', () => thrown(() => MemoryRegion.ram('r16', 16n * MiB)));
    expect(err).toBeInstanceOf(GuestMemoryLimitError);
    expect(err.message).toContain('the limit is 8 MiB, from NODE_KVM_MAX_GUEST_RAM=8M');
    const ok = withLimit('16M', () => MemoryRegion.ram('r16', 16n * MiB));
    expect(ok.size).toBe(16n * MiB);
    ok.close();
    expect(withLimit('64T', () => guestMemoryLimit().bytes)).toBe(64n * TiB);
    const bad = withLimit('lots', () => thrown(() => MemoryRegion.ram('r1', 4096n)));
    expect(bad).toBeInstanceOf(RangeError);
    expect(bad.message).toMatch(/NODE_KVM_MAX_GUEST_RAM "lots" is not a size/);
  });
});

describeKvm('guest RAM limit: KVM slots', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  test('attaching RAM beyond the limit is refused before any ioctl and registers nothing', () => {
    const system = MemoryRegion.container('system', 1n << 64n);
    const a = MemoryRegion.ram('a', 2n * MiB);
    const b = MemoryRegion.ram('b', 2n * MiB);
    system.addSubregion(0n, a);
    system.addSubregion(0x10000000n, b);
    const as = new AddressSpace(system, 'memory');
    const vm = kvm.createVm();
    try {
      const trace: string[] = [];
      const err = withLimit('3M', () => thrown(() => vm.addAddressSpace(as, { trace: (l) => trace.push(l) })));
      expect(err).toBeInstanceOf(GuestMemoryLimitError);
      expect(err.message).toMatch(/^KVM slots of the VM with address space "memory": 4 MiB of guest RAM is more than this host can back: the limit is 3 MiB, from NODE_KVM_MAX_GUEST_RAM=3M/);
      expect(trace).toEqual([]);
      expect(vm.memoryListeners).toHaveLength(0);
      expect(as.listeners).toHaveLength(0);
      expect(vm.slots()).toEqual([]);
      // nothing changed: the same attach works under a larger limit
      withLimit('4M', () => vm.addAddressSpace(as));
      expect(vm.slots().map((s) => s.memorySize)).toEqual([2n * MiB, 2n * MiB]);
    } finally {
      vm.close();
      as.destroy();
      for (const mr of [a, b, system]) mr.close();
    }
  });

  test('a later commit beyond the limit: deletions applied, what fits placed, the rest trapped and retried', () => {
    const system = MemoryRegion.container('system', 1n << 64n);
    const a = MemoryRegion.ram('a', 2n * MiB);
    const b = MemoryRegion.ram('b', 2n * MiB);
    system.addSubregion(0n, a);
    const as = new AddressSpace(system, 'memory');
    const vm = kvm.createVm();
    try {
      withLimit('3M', () => {
        vm.addAddressSpace(as);
        const err = thrown(() => system.addSubregion(0x10000000n, b));
        expect(err).toBeInstanceOf(GuestMemoryLimitError);
        expect(vm.slots().map((s) => s.guestPhysAddr)).toEqual([0n]);
        expect(vm.trapped()).toEqual([{ start: 0x10000000n, size: 2n * MiB, reason: 'host-memory-limit', asId: 0, region: 'b' }]);
        expect(as.formatFlatView()).toContain('0000000010000000-00000000101fffff (prio 0, ram): b\n'); // no KVM
        system.removeSubregion(a); // frees the budget: b gets its slot in the same commit
        expect(vm.slots().map((s) => s.guestPhysAddr)).toEqual([0x10000000n]);
        expect(vm.trapped()).toEqual([]);
      });
    } finally {
      vm.close();
      as.destroy();
      for (const mr of [a, b, system]) mr.close();
    }
  });

  test('RAM above the guest physical-address width: the raw slot call says so (not host memory, not alignment)', () => {
    const vm = kvm.createVm();
    const mem = allocateHostMemory(0x1000n);
    try {
      const bits = kvm.supportedCpuid().find((e) => e.function === 0x80000008)!.eax & 0xff;
      for (const gpa of [1n << BigInt(bits), 1n << 60n, (1n << 64n) - 0x1000n]) {
        const err = thrown(() => vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: gpa, memorySize: 0x1000n, userspaceAddr: mem.hostAddress }));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.message).toContain(`ends above 2^${bits}, the guest's physical-address width`);
        expect(err.message).toContain('not a lack of host memory');
      }
      // just below the width is a slot
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: (1n << BigInt(bits)) - 0x1000n, memorySize: 0x1000n, userspaceAddr: mem.hostAddress });
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: (1n << BigInt(bits)) - 0x1000n, memorySize: 0n, userspaceAddr: mem.hostAddress });
    } finally {
      vm.close();
      mem.close();
    }
  });

  test('the raw setUserMemoryRegion refuses a slot beyond the limit before the ioctl', () => {
    const vm = kvm.createVm();
    const mem = allocateHostMemory(2n * MiB);
    try {
      const err = withLimit('1M', () => thrown(() => vm.setUserMemoryRegion({
        slot: 0, guestPhysAddr: 0n, memorySize: 2n * MiB, userspaceAddr: mem.hostAddress,
      })));
      expect(err).toBeInstanceOf(GuestMemoryLimitError);
      expect(err.message).toMatch(/^slot 0: 2 MiB of guest RAM is more than this host can back/);
      mem.close(); // no slot maps it (a slot would make this EBUSY)
      expect(mem.closed).toBe(true);
    } finally {
      vm.close();
      mem.close();
    }
  });
});
