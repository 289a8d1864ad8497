import { buildConformanceCase, loadConformanceCases } from '../helpers/conformance';

const cases = loadConformanceCases();

test('conformance cases are present', () => {
  expect(cases.length).toBeGreaterThanOrEqual(5);
});

describe.each(cases.map((c) => [c.file, c.json] as const))('QEMU 7.2 conformance %s', (_file, json) => {
  test('info mtree -D and info mtree -f match line for line', () => {
    const built = buildConformanceCase(json);
    try {
      for (const [asName, expected] of Object.entries(json.expected.mtree)) {
        const as = built.spaces.get(asName)!;
        expect(as).toBeDefined();
        expect(as.formatTree().split('\n').slice(0, -1)).toEqual(expected);
      }
      for (const [asName, expected] of Object.entries(json.expected.flat)) {
        const as = built.spaces.get(asName)!;
        // no VM is attached, so QEMU's " KVM" accelerator suffix is absent
        const noKvm = expected.map((l) => l.replace(/ KVM$/, ''));
        expect(as.formatFlatView().split('\n').slice(0, -1)).toEqual(noKvm);
      }
    } finally {
      built.close();
    }
  });
});
