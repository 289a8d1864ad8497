/**
 * The child list of a container (issue 10, item 12): QEMU's order, kept at
 * O(1) per link / unlink instead of a splice into an array.
 *
 * The order is checked against a literal model of
 * memory_region_update_container_subregions (insert before the first sibling
 * whose priority is <= the new one's, else at the tail), through every way a
 * child enters or leaves a list; the cost is checked by how it grows.
 */
import { MemoryRegion, TWO_64, transaction } from '../../lib/memory';
import { prng } from '../helpers/prng';
import { cleanup, space } from './util';

afterEach(cleanup);

/** QEMU's list insert, on a plain array */
function qemuInsert(list: MemoryRegion[], mr: MemoryRegion): void {
  const i = list.findIndex((o) => o.priority <= mr.priority);
  list.splice(i < 0 ? list.length : i, 0, mr);
}

const names = (l: readonly MemoryRegion[]): string[] => l.map((m) => m.name);

test('random links, unlinks, moves and closes give QEMU list order (and the render agrees)', () => {
  const rng = prng(0x5eb);
  const root = MemoryRegion.container('root', TWO_64);
  const as = space(root);
  const model: MemoryRegion[] = [];
  const pool: MemoryRegion[] = [];
  let made = 0;
  for (let step = 0; step < 6000; step++) {
    const op = rng.int(10);
    const linked = model.length;
    if (op < 4 || linked === 0) {
      const mr = pool.pop() ?? MemoryRegion.io(`r${made++}`, 0x10);
      const prio = rng.int(4) - 1;
      const addr = rng.int(8) * 0x10;
      if (prio === 0 && rng.int(2) === 0) root.addSubregion(addr, mr);
      else root.addSubregionOverlap(addr, mr, prio);
      qemuInsert(model, mr);
    } else if (op < 7) {
      const mr = model.splice(rng.int(linked), 1)[0];
      root.removeSubregion(mr);
      pool.push(mr);
    } else if (op < 9) {
      // set_address re-links: the newest of its priority
      const mr = model.splice(rng.int(linked), 1)[0];
      mr.setAddress(mr.addr === 0x100n ? 0x110n : 0x100n);
      qemuInsert(model, mr);
    } else if (rng.int(4) > 0) {
      const mr = model[rng.int(linked)];
      mr.setEnabled(!mr.enabled); // never moves it
    } else {
      // close() unlinks it from its container
      model.splice(rng.int(linked), 1)[0].close();
    }
    // several links or unlinks between two reads: the list must batch them
    if (rng.int(3) === 0) expect(names(root.subregions)).toEqual(names(model));
  }
  expect(names(root.subregions)).toEqual(names(model));
  // the view is the first enabled region of the list at each address
  for (let addr = 0; addr < 0x120; addr += 0x10) {
    const winner = model.find((m) => m.enabled && m.addr === BigInt(addr));
    const r = as.currentView.ranges.find((fr) => fr.start === BigInt(addr));
    expect(r?.mr.name).toBe(winner?.name);
  }
});

test('unlinking a third of 3,000 children, in one transaction and one by one, keeps the order of the rest', () => {
  const root = MemoryRegion.container('root', TWO_64);
  space(root);
  const all: MemoryRegion[] = [];
  transaction(() => {
    for (let i = 0; i < 3000; i++) {
      const mr = MemoryRegion.io(`r${i}`, 0x1000);
      root.addSubregionOverlap(i * 0x1000, mr, i % 3);
      all.push(mr);
    }
  });
  const model: MemoryRegion[] = [];
  for (const mr of all) qemuInsert(model, mr);
  expect(names(root.subregions)).toEqual(names(model));
  transaction(() => {
    for (let i = 0; i < 3000; i += 6) root.removeSubregion(all[i]);
  });
  for (let i = 3; i < 3000; i += 6) root.removeSubregion(all[i]);
  const rest = model.filter((m) => m.container === root);
  expect(rest).toHaveLength(2000);
  expect(names(root.subregions)).toEqual(names(rest));
});

test('close() of a container with 2,000 children unlinks every one', () => {
  const c = MemoryRegion.container('c', 0x1000000);
  const kids: MemoryRegion[] = [];
  for (let i = 0; i < 2000; i++) {
    const k = MemoryRegion.io(`k${i}`, 0x10);
    c.addSubregion(i * 0x10, k);
    kids.push(k);
  }
  const before = c.subregions;
  c.close();
  expect(kids.every((k) => k.container === null)).toBe(true);
  expect(c.subregions).toHaveLength(0);
  // a list handed out earlier is a copy: it still names all 2,000
  expect(before).toHaveLength(2000);
});

/** ms to link n children (priority from prio(i), address from addr(i)) in one transaction and read the list once */
function linkTime(n: number, addr: (i: number) => number, prio: (i: number) => number): number {
  const c = MemoryRegion.container('c', TWO_64);
  const kids: MemoryRegion[] = [];
  for (let i = 0; i < n; i++) kids.push(MemoryRegion.io('k', 0x1000));
  const t0 = process.hrtime.bigint();
  transaction(() => {
    for (let i = 0; i < n; i++) c.addSubregionOverlap(addr(i) * 0x1000, kids[i], prio(i));
  });
  expect(c.subregions).toHaveLength(n);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

test.each([
  { order: 'equal priorities, descending addresses', addr: (i: number, n: number) => n - i, prio: () => 0 },
  { order: 'mixed priorities, ascending addresses', addr: (i: number) => i, prio: (i: number) => (i * 7919) % 5 },
])('linking is not quadratic: $order', ({ addr, prio }) => {
  // best of two, to keep a busy host's noise out; a splice per link grows
  // about 100x from 20,000 to 200,000 children, O(1) links about 10x
  const n1 = 20000;
  const n2 = 200000;
  const t1 = Math.min(linkTime(n1, (i) => addr(i, n1), prio), linkTime(n1, (i) => addr(i, n1), prio));
  const t2 = Math.min(linkTime(n2, (i) => addr(i, n2), prio), linkTime(n2, (i) => addr(i, n2), prio));
  expect(t2 / Math.max(t1, 1)).toBeLessThan(40);
}, 120000);
