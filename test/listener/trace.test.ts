// The ioctl sequence, in QEMU's own trace format, for the topology changes the
// design card names.  Expected sequences follow the semantics doc (§6.4, §6.6,
// §6.8, §6.11: QEMU's observed PAM RE/RW/PCI traces, lowest-free slot reuse,
// deletions before additions, flags-only dirty-log updates).
import { MemoryRegion, startGlobalDirtyLog, stopGlobalDirtyLog, transaction } from '../../lib/memory';
import { Kvm, Vm } from '../../lib';
import { describeKvm } from '../helpers/kvm';
import { smallPc as makeSmallPc } from '../helpers/small-pc';

const hex = (v: bigint | number) => '0x' + v.toString(16);
const line = (slot: number, flags: number, gpa: bigint, size: bigint, ua: bigint) =>
  `kvm_set_user_memory Slot#${slot} flags=${hex(flags)} gpa=${hex(gpa)} size=${hex(size)} ua=${hex(ua)} ret=0`;

describeKvm('KVM memory listener: ioctl traces', () => {
  let kvm: Kvm;
  let vm: Vm;
  let trace: string[];
  const closers: (() => void)[] = [];
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());
  beforeEach(() => {
    vm = kvm.createVm();
    trace = [];
  });
  afterEach(() => {
    vm.close();
    for (const c of closers.splice(0).reverse()) c();
  });

  function smallPc() {
    const pc = makeSmallPc();
    closers.push(pc.close);
    return pc;
  }

  test('PAM-like alias over RAM: RW merges three slots into one, PCI splits it again, RE re-creates only the middle', () => {
    const pc = smallPc();
    vm.addAddressSpace(pc.as, { trace: (l) => trace.push(l) });
    const R = pc.ram.hostAddress();
    const B = pc.bios.hostAddress();
    expect(trace).toEqual([
      line(0, 0, 0n, 0xe0000n, R),
      line(1, 2, 0xe0000n, 0x20000n, B),
      line(2, 0, 0x100000n, 0x100000n, R + 0x100000n),
    ]);

    trace.length = 0; // "RW": RAM shows through -> one range, one slot
    transaction(() => {
      pc.pamPci.setEnabled(false);
      pc.pamRam.setEnabled(true);
    });
    expect(pc.as.formatFlatView()).toBe('0000000000000000-00000000001fffff (prio 0, ram): pc.ram KVM\n');
    expect(trace).toEqual([
      line(0, 0, 0n, 0n, R),
      line(1, 0, 0xe0000n, 0n, B),
      line(2, 0, 0x100000n, 0n, R + 0x100000n),
      line(0, 0, 0n, 0x200000n, R),
    ]);

    trace.length = 0; // back to "PCI": split
    transaction(() => {
      pc.pamRam.setEnabled(false);
      pc.pamPci.setEnabled(true);
    });
    expect(trace).toEqual([
      line(0, 0, 0n, 0n, R),
      line(0, 0, 0n, 0xe0000n, R),
      line(1, 2, 0xe0000n, 0x20000n, B),
      line(2, 0, 0x100000n, 0x100000n, R + 0x100000n),
    ]);

    trace.length = 0; // "RE": read-only RAM in the middle; the neighbours are not touched
    transaction(() => {
      pc.pamPci.setEnabled(false);
      pc.pamRom.setEnabled(true);
    });
    expect(trace).toEqual([
      line(1, 0, 0xe0000n, 0n, B),
      line(1, 2, 0xe0000n, 0x20000n, R + 0xe0000n),
    ]);
    expect(pc.as.formatFlatView().split('\n')).toContain('00000000000e0000-00000000000fffff (prio 0, rom): pc.ram @00000000000e0000 KVM');
    expect(vm.slots().map((s) => [s.slot, s.flags, s.guestPhysAddr, s.memorySize])).toEqual([
      [0, 0, 0n, 0xe0000n], [1, 2, 0xe0000n, 0x20000n], [2, 0, 0x100000n, 0x100000n],
    ]);
  });

  test('§9.25 global dirty logging: one flags-only ioctl per slot in ascending GPA (0x1 on RAM, 0x3 on ROM), and back', () => {
    const pc = smallPc();
    vm.addAddressSpace(pc.as, { trace: (l) => trace.push(l) });
    const ram = pc.ram.hostAddress();
    const bios = pc.bios.hostAddress();
    trace.length = 0;
    startGlobalDirtyLog();
    try {
      expect(trace).toEqual([
        line(0, 1, 0n, 0xe0000n, ram),
        line(1, 3, 0xe0000n, 0x20000n, bios),
        line(2, 1, 0x100000n, 0x100000n, ram + 0x100000n),
      ]);
      trace.length = 0;
    } finally {
      stopGlobalDirtyLog();
    }
    expect(trace).toEqual([
      line(0, 0, 0n, 0xe0000n, ram),
      line(1, 2, 0xe0000n, 0x20000n, bios),
      line(2, 0, 0x100000n, 0x100000n, ram + 0x100000n),
    ]);
  });

  test('moving a RAM BAR: delete then add, the slot id is reused; dirty logging on it is one flags-only ioctl', () => {
    const pc = smallPc();
    const bar = MemoryRegion.ram('bar', 0x10000n);
    closers.push(() => bar.close());
    pc.pci.addSubregionOverlap(0xe0000000n, bar, 1);
    vm.addAddressSpace(pc.as, { trace: (l) => trace.push(l) });
    const U = bar.hostAddress();
    expect(trace[3]).toBe(line(3, 0, 0xe0000000n, 0x10000n, U));

    trace.length = 0;
    bar.setAddress(0xe0100000n);
    expect(trace).toEqual([line(3, 0, 0xe0000000n, 0n, U), line(3, 0, 0xe0100000n, 0x10000n, U)]);

    trace.length = 0;
    bar.setDirtyLogging(true);
    expect(trace).toEqual([line(3, 1, 0xe0100000n, 0x10000n, U)]);
    trace.length = 0;
    bar.setDirtyLogging(false);
    expect(trace).toEqual([line(3, 0, 0xe0100000n, 0x10000n, U)]);
  });

  test('a sub-page region gets no slot and no KVM suffix; an unaligned one gets the trimmed whole pages', () => {
    const pc = smallPc();
    vm.addAddressSpace(pc.as, { trace: (l) => trace.push(l) });
    trace.length = 0;
    const tiny = MemoryRegion.rom('e1000.rom', 0x200n);
    closers.push(() => tiny.close());
    pc.pci.addSubregionOverlap(0xe0000000n, tiny, 1);
    expect(trace).toEqual([]);
    expect(pc.as.formatFlatView().split('\n')).toContain('00000000e0000000-00000000e00001ff (prio 1, rom): e1000.rom');

    // alias of RAM offset 0x800 at a guest address with the same page offset:
    // [0xe0030800, 0xe0032800) -> head and tail partial pages dropped
    const ram2 = MemoryRegion.ram('ram2', 0x4000n);
    const win = MemoryRegion.alias('win', ram2, 0x800n, 0x2000n);
    closers.push(() => {
      win.close();
      ram2.close();
    });
    pc.pci.addSubregionOverlap(0xe0030800n, win, 1);
    expect(trace).toEqual([line(3, 0, 0xe0031000n, 0x1000n, ram2.hostAddress() + 0x1000n)]);
    expect(pc.as.formatFlatView().split('\n')).toContain('00000000e0030800-00000000e00327ff (prio 0, ram): ram2 @0000000000000800');
    expect(pc.as.formatFlatView()).not.toContain('ram2 @0000000000000800 KVM');
  });

  test('sections above the maximum slot size are split into chunks; has_memory checks the first chunk', () => {
    const pc = smallPc();
    vm.addAddressSpace(pc.as, { trace: (l) => trace.push(l), maxSlotSize: 0x80000n });
    const R = pc.ram.hostAddress();
    expect(trace).toEqual([
      line(0, 0, 0n, 0x80000n, R),
      line(1, 0, 0x80000n, 0x60000n, R + 0x80000n),
      line(2, 2, 0xe0000n, 0x20000n, pc.bios.hostAddress()),
      line(3, 0, 0x100000n, 0x80000n, R + 0x100000n),
      line(4, 0, 0x180000n, 0x80000n, R + 0x180000n),
    ]);
    expect(pc.as.formatFlatView().split('\n').filter((l) => l.endsWith(' KVM'))).toHaveLength(3);
  });

  test('NODE_KVM_TRACE=kvm_set_user_memory prints the lines on stderr', () => {
    const pc = smallPc();
    const old = process.env.NODE_KVM_TRACE;
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      trace.push(String(s));
      return true;
    });
    try {
      process.env.NODE_KVM_TRACE = 'memory_region_ops_read,kvm_set_user_memory';
      vm.addAddressSpace(pc.as);
    } finally {
      spy.mockRestore();
      if (old === undefined) delete process.env.NODE_KVM_TRACE;
      else process.env.NODE_KVM_TRACE = old;
    }
    expect(trace).toEqual([
      line(0, 0, 0n, 0xe0000n, pc.ram.hostAddress()) + '\n',
      line(1, 2, 0xe0000n, 0x20000n, pc.bios.hostAddress()) + '\n',
      line(2, 0, 0x100000n, 0x100000n, pc.ram.hostAddress() + 0x100000n) + '\n',
    ]);
  });
});
