/**
 * Bad input gets a clear error and changes nothing (checked through the
 * rendered view, the tree text and listener silence).
 */
import {
  AddressSpace, MemoryRegion, MemoryRegionError, type MemoryListener, TWO_64, UINT64_MAX,
} from '../../lib/memory';
import { cleanup, space, tree } from './util';

afterEach(cleanup);

function world() {
  const root = MemoryRegion.container('system', TWO_64);
  const a = MemoryRegion.container('a', 0x10000);
  const b = MemoryRegion.io('b', 0x1000);
  const al = MemoryRegion.alias('al', b, 0x10, 0x100);
  root.addSubregion(0x10000, a);
  a.addSubregionOverlap(0x1000, b, 3);
  root.addSubregion(0x40000, al);
  const as = space(root, 'memory');
  const calls: string[] = [];
  const l: MemoryListener = { begin: () => calls.push('begin'), commit: () => calls.push('commit') };
  as.addListener(l);
  calls.length = 0;
  const snapshot = () => ({ tree: as.formatTree(), flat: as.formatFlatView() });
  const before = snapshot();
  /** run fn, expect it to throw `err`, and expect nothing to have changed */
  const refused = (fn: () => unknown, err: unknown, msg?: RegExp) => {
    expect(fn).toThrow(err as Error);
    if (msg) expect(fn).toThrow(msg);
    expect(snapshot()).toEqual(before);
    expect(calls).toEqual([]);
  };
  return { root, a, b, al, as, refused };
}

test('alias cycles are refused (QEMU would overflow its stack)', () => {
  const { root, a, refused } = world();
  const selfAlias = MemoryRegion.alias('loop', a, 0, 0x1000);
  refused(() => a.addSubregion(0, selfAlias), MemoryRegionError, /cycle/);
  // indirect: an alias of the root inside a grandchild
  const inner = MemoryRegion.container('inner', 0x100);
  a.addSubregion(0x8000, inner);
  const rootAlias = MemoryRegion.alias('root-alias', root, 0, 0x100);
  expect(() => inner.addSubregion(0, rootAlias)).toThrow(/cycle/);
  expect(inner.subregions).toEqual([]);
  expect(rootAlias.container).toBeNull();
  // a region into its own descendant
  expect(() => inner.addSubregion(0, a)).toThrow(MemoryRegionError);
  // a region into itself
  expect(() => a.addSubregion(0, a)).toThrow(/itself/);
  // an alias's own subregions count too
  const al2 = MemoryRegion.alias('al2', inner, 0, 0x10);
  const c = MemoryRegion.container('c', 0x10);
  al2.addSubregion(0, c);
  expect(() => c.addSubregion(0, al2)).toThrow(/cycle/);
});

test('adding a region that already has a container', () => {
  const { root, b, refused } = world();
  refused(() => root.addSubregion(0, b), MemoryRegionError, /already a subregion of "a"/);
});

test('removing a region that is not a child', () => {
  const { root, b, refused } = world();
  refused(() => root.removeSubregion(b), MemoryRegionError, /subregion of "a", not of "system"/);
  refused(() => root.removeSubregion(MemoryRegion.io('stray', 1)), MemoryRegionError, /no container/);
});

test('sizes: negative, non-integer, unsafe numbers, above 2^64, wrong types', () => {
  const { b, refused } = world();
  expect(() => MemoryRegion.container('x', -1)).toThrow(RangeError);
  expect(() => MemoryRegion.io('x', 1.5)).toThrow(RangeError);
  expect(() => MemoryRegion.io('x', NaN)).toThrow(RangeError);
  expect(() => MemoryRegion.io('x', 2 ** 60)).toThrow(/bigint/);
  expect(() => MemoryRegion.container('x', TWO_64 + 1n)).toThrow(RangeError);
  expect(() => MemoryRegion.container('x', '0x10' as unknown as number)).toThrow(TypeError);
  expect(() => MemoryRegion.container(42 as unknown as string, 1)).toThrow(TypeError);
  // 2^64 and UINT64_MAX are legal
  expect(MemoryRegion.container('x', TWO_64).size).toBe(TWO_64);
  expect(MemoryRegion.container('x', UINT64_MAX).size).toBe(TWO_64);
  refused(() => b.setSize(-1n), RangeError);
  refused(() => b.setSize(TWO_64 + 1n), RangeError);
  refused(() => b.setSize(0.5), RangeError);
  refused(() => b.setSize(null as unknown as number), TypeError);
  expect(() => MemoryRegion.alias('x', b, -1, 1)).toThrow(RangeError);
  expect(() => MemoryRegion.alias('x', {} as MemoryRegion, 0, 1)).toThrow(TypeError);
});

test('addresses, offsets and priorities out of range', () => {
  const { root, a, b, al, refused } = world();
  const fresh = MemoryRegion.io('fresh', 0x10);
  refused(() => root.addSubregion(-1, fresh), RangeError);
  refused(() => root.addSubregion(TWO_64, fresh), RangeError);
  refused(() => root.addSubregionOverlap(0, fresh, 1.5), RangeError);
  refused(() => root.addSubregionOverlap(0, fresh, 2 ** 31), RangeError);
  refused(() => root.addSubregionOverlap(0, fresh, '1' as unknown as number), TypeError);
  refused(() => root.addSubregion(0, 'nope' as unknown as MemoryRegion), TypeError);
  expect(fresh.container).toBeNull();
  refused(() => b.setAddress(-5), RangeError);
  refused(() => b.setAddress(TWO_64), RangeError);
  refused(() => al.setAliasOffset(-1), RangeError);
  refused(() => a.setAliasOffset(0), MemoryRegionError, /not an alias/);
  refused(() => b.setRomdMode(false), MemoryRegionError, /not a ROM device/);
  refused(() => b.setEnabled('no' as unknown as boolean), TypeError);
  refused(() => b.setReadonly(1 as unknown as boolean), TypeError);
});

test('ops are validated', () => {
  expect(() => MemoryRegion.io('x', 1, { read: 5 as unknown as () => number })).toThrow(TypeError);
  expect(() => MemoryRegion.io('x', 1, { valid: { maxAccessSize: 3 } })).toThrow(RangeError);
  expect(() => MemoryRegion.io('x', 1, { endianness: 'middle' as 'little' })).toThrow(RangeError);
  expect(() => MemoryRegion.io('x', 1, { impl: { unaligned: true } })).toThrow(/valid.unaligned/);
  expect(() => MemoryRegion.romDevice('x', 0x1000, undefined as unknown as object)).toThrow(TypeError);
});

test('closed regions refuse further use; closing is idempotent and unmaps RAM', () => {
  const { a, b, as } = world();
  const ram = MemoryRegion.ram('r', 0x1000);
  const view = ram.bytes();
  a.addSubregion(0x8000, ram);
  expect(as.flatView().some((fr) => fr.mr === ram)).toBe(true);
  ram.close();
  ram.close();
  expect(ram.closed).toBe(true);
  expect(view.byteLength).toBe(0); // detached
  expect(as.flatView().some((fr) => fr.mr === ram)).toBe(false);
  expect(() => a.addSubregion(0, ram)).toThrow(/closed/);
  expect(() => ram.setSize(0x10)).toThrow(/closed/);
  expect(() => MemoryRegion.alias('x', ram, 0, 1)).toThrow(/closed/);
  expect(() => ram.bytes()).toThrow();
  // other regions are unaffected
  expect(tree(as)[1]).toContain(': a');
  expect(tree(as)[2]).toContain(': b');
  void b;
});

test('an AddressSpace needs a region', () => {
  expect(() => new AddressSpace({} as MemoryRegion, 'x')).toThrow(TypeError);
  const c = MemoryRegion.container('c', 1);
  c.close();
  expect(() => new AddressSpace(c, 'x')).toThrow(MemoryRegionError);
});

test('RAM regions need a size and cannot grow past their block', () => {
  expect(() => MemoryRegion.ram('r', 0)).toThrow(RangeError);
  const r = MemoryRegion.ram('r', 0x1800);
  try {
    expect(() => r.setSize(0x3000)).toThrow(/RAM block/);
    expect(r.size).toBe(0x1800n);
    r.setSize(0x2000); // within the page-aligned block: allowed
    expect(r.size).toBe(0x2000n);
  } finally {
    r.close();
  }
});
