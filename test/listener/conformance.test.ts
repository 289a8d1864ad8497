// Every QEMU 7.2 conformance case on a real VM: the kernel's slot table must
// be expected.slots and `info mtree -f` must carry " KVM" exactly where QEMU
// printed it (expected values come from the captured JSON, not from the code).
import { Kvm } from '../../lib';
import { buildConformanceCase, loadConformanceCases } from '../helpers/conformance';
import { describeKvm } from '../helpers/kvm';

const cases = loadConformanceCases();

describeKvm('KVM memory listener: QEMU 7.2 conformance', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  test('the capture cases are present', () => {
    expect(cases.length).toBeGreaterThanOrEqual(5);
  });

  test.each(cases.map((c) => [c.file, c.json] as const))('%s: slots and flat view with KVM', (_file, json) => {
    const built = buildConformanceCase(json);
    const vm = kvm.createVm();
    try {
      const memory = built.spaces.get('memory')!;
      vm.addAddressSpace(memory);
      const got = vm.slots().map((s) => ({ gpa: '0x' + s.guestPhysAddr.toString(16), size: '0x' + s.memorySize.toString(16), flags: s.flags }));
      expect(got).toEqual(json.expected.slots);
      // slot ids are unique and the kernel's view agrees: every slot is a real, distinct id
      expect(new Set(vm.slots().map((s) => s.slot)).size).toBe(got.length);
      for (const [asName, expected] of Object.entries(json.expected.flat)) {
        const as = built.spaces.get(asName)!;
        expect(as.formatFlatView().split('\n').slice(0, -1)).toEqual(expected);
      }
    } finally {
      vm.close();
      built.close();
    }
  });

  test('pc-128m-bios without READONLY_MEM gives exactly what QEMU registered for plain ROM (flags 0 on aliases)', () => {
    // With the capability withheld nothing is read-only: qemuSlots minus the
    // READONLY bit (QEMU maps plain ROM writable when the cap is missing).
    const json = cases.find((c) => c.file === 'pc-128m-bios.json')!.json;
    const built = buildConformanceCase(json);
    const vm = kvm.createVm();
    try {
      vm.addAddressSpace(built.spaces.get('memory')!, { readonlyMem: false });
      const got = vm.slots().map((s) => ({ gpa: '0x' + s.guestPhysAddr.toString(16), size: '0x' + s.memorySize.toString(16), flags: s.flags }));
      expect(got).toEqual(json.expected.qemuSlots.map((s) => ({ ...s, flags: s.flags & ~2 })));
    } finally {
      vm.close();
      built.close();
    }
  });
});
