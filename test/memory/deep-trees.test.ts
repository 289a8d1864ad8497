/**
 * Trees and alias chains deeper than the JS stack (issue 10, item 11).
 *
 * QEMU's render, damage mapping and `info mtree` recurse; JavaScript's stack
 * ends at about 10,000 frames.  Every walk over the tree must therefore work
 * for any depth, and a deep chain must never leave the model in a state where
 * later (even unrelated) commits throw.
 */
import { AddressSpace, formatMtree, MemoryRegion, TWO_64, transaction, type FlatRange } from '../../lib/memory';
import { renderStats, setRenderVerification } from '../../lib/memory/incremental';
import { cleanup, space } from './util';

afterEach(cleanup);

/** what a view shows, one compact string per range */
const show = (ranges: readonly FlatRange[]): string[] =>
  ranges.map((r) => `${r.mr.name} 0x${r.start.toString(16)}+0x${r.size.toString(16)} @0x${r.offsetInRegion.toString(16)}${r.readonly ? ' ro' : ''}`);

/**
 * `depth` containers, each the child of the previous one at 0x100; every
 * `leafEvery`-th container has an i/o leaf of 0x100 bytes at its offset 0.
 * Container i starts at view address at + i * 0x100.  Built from the top
 * down while detached, so that each link's cycle check is O(1).
 */
function nested(depth: number, leafEvery: number): { top: MemoryRegion; leaves: MemoryRegion[] } {
  const top = MemoryRegion.container('c0', BigInt(depth + 1) * 0x100n);
  const leaves: MemoryRegion[] = [];
  let c = top;
  for (let i = 0; i < depth; i++) {
    if (i % leafEvery === 0) {
      const leaf = MemoryRegion.io(`leaf${i}`, 0x100);
      c.addSubregion(0, leaf);
      leaves.push(leaf);
    }
    if (i === depth - 1) break;
    const next = MemoryRegion.container(`c${i + 1}`, BigInt(depth - i) * 0x100n);
    c.addSubregion(0x100, next);
    c = next;
  }
  return { top, leaves };
}

function expectedNested(at: bigint, depth: number, leafEvery: number, skip?: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < depth; i += leafEvery) {
    if (i !== skip) out.push(`leaf${i} 0x${(at + BigInt(i) * 0x100n).toString(16)}+0x100 @0x0`);
  }
  return out;
}

/** a commit that has nothing to do with the deep tree: another region of the same root, then another address space */
function unrelatedCommits(root: MemoryRegion, as: AddressSpace): void {
  const dev = MemoryRegion.io('unrelated', 0x1000);
  root.addSubregion(0xf0000000n, dev);
  expect(show(as.currentView.ranges).at(-1)).toBe('unrelated 0xf0000000+0x1000 @0x0');
  root.removeSubregion(dev);
  const other = MemoryRegion.container('other', TWO_64);
  const otherAs = space(other, 'other');
  other.addSubregion(0x1000, MemoryRegion.io('other-dev', 0x1000));
  expect(show(otherAs.currentView.ranges)).toEqual(['other-dev 0x1000+0x1000 @0x0']);
}

describe.each([
  { depth: 5000, leafEvery: 10 },
  { depth: 20000, leafEvery: 10 },
])('$depth nested containers', ({ depth, leafEvery }) => {
  const at = 0x100000n;

  test('render, incremental commits inside the chain and unrelated commits all work', () => {
    const wasVerify = setRenderVerification(true);
    try {
      const root = MemoryRegion.container('system', TWO_64);
      const as = space(root);
      const { top, leaves } = nested(depth, leafEvery);
      root.addSubregion(at, top);
      expect(show(as.currentView.ranges)).toEqual(expectedNested(at, depth, leafEvery));

      // a change at the bottom is carried up through every level (or, past
      // the damage-mapping budget, re-rendered in full): verification compares
      // each incremental view with a full render
      const deepest = leaves[leaves.length - 1];
      const deepestIndex = (leaves.length - 1) * leafEvery;
      deepest.setEnabled(false);
      expect(show(as.currentView.ranges)).toEqual(expectedNested(at, depth, leafEvery, deepestIndex));
      deepest.setEnabled(true);
      expect(show(as.currentView.ranges)).toEqual(expectedNested(at, depth, leafEvery));

      unrelatedCommits(root, as);

      root.removeSubregion(top);
      expect(as.currentView.ranges).toHaveLength(0);
    } finally {
      setRenderVerification(wasVerify);
    }
  });

  test('as an address-space root of its own, and in a second address space through an alias', () => {
    const { top } = nested(depth, leafEvery);
    const as = space(top, 'deep-root');
    expect(show(as.currentView.ranges)).toEqual(expectedNested(0n, depth, leafEvery));
    const via = MemoryRegion.container('via', TWO_64);
    via.addSubregion(0x10000, MemoryRegion.alias('window', top, 0x100, BigInt(depth) * 0x100n));
    const viaAs = space(via, 'via');
    // the alias shows everything from container c1 on, moved down by 0x100
    expect(show(viaAs.currentView.ranges)).toEqual(expectedNested(0n, depth, leafEvery).slice(1)
      .map((l) => l.replace(/0x([0-9a-f]+)\+/, (_, a: string) => `0x${(BigInt('0x' + a) - 0x100n + 0x10000n).toString(16)}+`)));
  });
});

test('info mtree prints 5,000 nested containers', () => {
  const depth = 5000;
  const root = MemoryRegion.container('system', TWO_64);
  const as = space(root);
  const { top } = nested(depth, 10);
  root.addSubregion(0x100000, top);
  const lines = as.formatTree().trimEnd().split('\n');
  // the root, every container, every leaf
  expect(lines).toHaveLength(1 + depth + depth / 10);
  // c0 is 5,001 * 0x100 bytes
  expect(lines[1]).toBe('    0000000000100000-00000000002388ff (prio 0, i/o): c0');
  expect(lines[2]).toBe('      0000000000100000-00000000001000ff (prio 0, i/o): leaf0');
  // c4999, at level 5,001, is 2 * 0x100 bytes at 0x100000 + 4,999 * 0x100
  expect(lines.at(-1)).toBe(`${'  '.repeat(depth + 1)}0000000000238700-00000000002388ff (prio 0, i/o): c4999`);
});

describe('a chain of 10,000 aliases', () => {
  const n = 10000;
  const size = 0x10000;

  /** alias i shows alias i-1 from offset 1 on, one byte shorter: the last shows the target from offset n */
  function chain(target: MemoryRegion): MemoryRegion {
    let mr = target;
    for (let i = 0; i < n; i++) mr = MemoryRegion.alias(`a${i}`, mr, 1, size - i - 1);
    return mr;
  }

  test('renders, carries damage at its target up to the view, and leaves unrelated commits working', () => {
    const wasVerify = setRenderVerification(true);
    try {
      const root = MemoryRegion.container('system', TWO_64);
      const as = space(root);
      const target = MemoryRegion.io('target', size);
      const last = chain(target);
      root.addSubregion(0x200000, last);
      const want = `target 0x200000+0x${(size - n).toString(16)} @0x${n.toString(16)}`;
      expect(show(as.currentView.ranges)).toEqual([want]);

      // readonly on the target reaches the view through all 10,000 aliases
      const incremental = renderStats.incremental;
      target.setReadonly(true);
      expect(show(as.currentView.ranges)).toEqual([want + ' ro']);
      expect(renderStats.incremental).toBe(incremental + 1);
      target.setReadonly(false);
      expect(show(as.currentView.ranges)).toEqual([want]);

      unrelatedCommits(root, as);

      // unlinking releases the whole chain's liveness links again
      root.removeSubregion(last);
      expect(as.currentView.ranges).toHaveLength(0);
      expect(target.isMapped).toBe(false);
    } finally {
      setRenderVerification(wasVerify);
    }
  });

  test('info mtree prints the alias and every target once', () => {
    const root = MemoryRegion.container('system', TWO_64);
    const as = space(root);
    root.addSubregion(0x200000, chain(MemoryRegion.io('target', size)));
    const text = formatMtree([as]);
    const sections = text.split('\n').filter((l) => l.startsWith('memory-region: '));
    // a9998 ... a0, then the target
    expect(sections).toHaveLength(n);
    expect(sections[0]).toBe('memory-region: a9998');
    expect(sections.at(-1)).toBe('memory-region: target');
  });

  test('in one transaction with an address space created inside it', () => {
    const root = MemoryRegion.container('system', TWO_64);
    const target = MemoryRegion.io('target', size);
    transaction(() => {
      space(root);
      root.addSubregion(0, chain(target));
    });
    expect(show(space(root, 'again').currentView.ranges)).toEqual([`target 0x0+0x${(size - n).toString(16)} @0x${n.toString(16)}`]);
  });
});
