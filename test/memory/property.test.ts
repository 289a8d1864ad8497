/**
 * Property tests: random region trees (aliases, priorities, overlap, disabled
 * regions, regions past their container's end, windows near 2^64, random
 * mutations) must render exactly what an independent per-address reference
 * evaluation says.
 *
 * The reference below does not use the model's render code or its internals:
 * it keeps its own shadow of the tree (built from the same operations) and,
 * for every address, walks down from the flatview root picking the first
 * child (priority descending, newest first) whose window contains the
 * address; a terminating region answers what no child covers.  Adjacent
 * addresses that continue the same region at the next offset with the same
 * flags form one range (QEMU's simplify).
 */
import fc from 'fast-check';
import { AddressSpace, MemoryRegion, TWO_64, transaction } from '../../lib/memory';

type Kind = 'container' | 'io' | 'alias';

interface SNode {
  kind: Kind;
  size: bigint;
  target: number; // alias target index (earlier region), -1 otherwise
  aliasOffset: bigint;
  enabled: boolean;
  readonly: boolean;
  nonvolatile: boolean;
  parent: number; // -1: none
  addr: bigint;
  prio: number;
  seq: number; // when it was (re)added: newer wins ties
}

const WIN = 0x80n;
const ROOT = 0;
const WINDOW = 1;

interface Scenario {
  base: bigint;
  regions: { kind: Kind; size: number; target: number; aliasOffset: number; enabled: boolean; readonly: boolean; nonvolatile: boolean; attach?: { parent: number; addr: number; prio: number } }[];
  adds: { child: number; parent: number; addr: number; prio: number }[];
  mutations: { op: number; i: number; v: number; b: boolean }[];
  batch: boolean;
}

const regionArb = fc.record({
  kind: fc.constantFrom<Kind>('container', 'io', 'io', 'alias'),
  size: fc.oneof(fc.integer({ min: 1, max: 0x60 }), fc.integer({ min: 1, max: 0x60 }), fc.constantFrom(0, 1, 0x10, 0x40, 0x100)),
  target: fc.nat(),
  aliasOffset: fc.integer({ min: 0, max: 0x50 }),
  enabled: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(true), fc.constant(false)),
  readonly: fc.oneof(fc.constant(false), fc.constant(false), fc.constant(true)),
  nonvolatile: fc.oneof(fc.constant(false), fc.constant(false), fc.constant(false), fc.constant(true)),
  // where it is first added: half of the time directly into the window
  attach: fc.record({
    parent: fc.oneof(fc.constant(0), fc.nat()),
    addr: fc.integer({ min: 0, max: 0x70 }),
    prio: fc.integer({ min: -2, max: 2 }),
  }),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  // the window sits at 0 (flatview-root skipping applies), in the middle, just
  // below 2^64, or straddling 2^64 (clipped)
  base: fc.constantFrom(0n, 0x1000n, TWO_64 - WIN, TWO_64 - 0x40n, TWO_64 - 1n),
  regions: fc.array(regionArb, { minLength: 3, maxLength: 12, size: 'medium' }),
  // extra adds (most fail: the child already has a container) after the per-region ones
  adds: fc.array(fc.record({ child: fc.nat(), parent: fc.nat(), addr: fc.integer({ min: 0, max: 0x70 }), prio: fc.integer({ min: -2, max: 2 }) }), { maxLength: 6 }),
  mutations: fc.array(fc.record({ op: fc.integer({ min: 0, max: 6 }), i: fc.nat(), v: fc.integer({ min: 0, max: 0x60 }), b: fc.boolean() }), { maxLength: 8 }),
  batch: fc.boolean(),
});

// ------------------------------------------------------------------ reference

interface Hit { mr: number; off: bigint; ro: boolean; nv: boolean }

function terminates(n: SNode): boolean {
  return n.kind === 'io';
}

function childrenInOrder(nodes: SNode[], p: number): number[] {
  const kids: number[] = [];
  nodes.forEach((n, i) => { if (n.parent === p) kids.push(i); });
  return kids.sort((a, b) => nodes[b].prio - nodes[a].prio || nodes[b].seq - nodes[a].seq);
}

function resolve(nodes: SNode[], i: number, off: bigint, ro: boolean, nv: boolean): Hit | null {
  const n = nodes[i];
  if (!n.enabled) return null;
  if (off < 0n || off >= n.size) return null;
  ro = ro || n.readonly;
  nv = nv || n.nonvolatile;
  if (n.kind === 'alias') return resolve(nodes, n.target, off + n.aliasOffset, ro, nv);
  for (const c of childrenInOrder(nodes, i)) {
    const hit = resolve(nodes, c, off - nodes[c].addr, ro, nv);
    if (hit) return hit;
  }
  return terminates(n) ? { mr: i, off, ro, nv } : null;
}

/** get_flatview_root per the semantics document §1.5 */
function refFlatviewRoot(nodes: SNode[], i: number): number {
  for (;;) {
    const n = nodes[i];
    if (!n.enabled) return -1;
    if (n.kind === 'alias') {
      if (n.aliasOffset === 0n && n.size >= nodes[n.target].size) { i = n.target; continue; }
      return i;
    }
    if (terminates(n)) return i;
    const en = childrenInOrder(nodes, i).filter((c) => nodes[c].enabled);
    if (en.length === 0) return -1;
    if (en.length === 1 && nodes[en[0]].addr === 0n && n.size >= nodes[en[0]].size) { i = en[0]; continue; }
    return i;
  }
}

type Row = [start: bigint, size: bigint, mr: number, off: bigint, ro: boolean, nv: boolean];

function reference(nodes: SNode[], base: bigint): Row[] {
  const fv = refFlatviewRoot(nodes, ROOT);
  if (fv < 0) return [];
  const rows: Row[] = [];
  const end = base + WIN > TWO_64 ? TWO_64 : base + WIN;
  // everything lives inside the window; check the addresses just around it too
  const lo = base >= 4n ? base - 4n : 0n;
  for (let a = lo; a < end; a++) {
    // rendering starts at the flatview root with base = its own addr
    const hit = resolve(nodes, fv, a - nodes[fv].addr, false, false);
    if (!hit) continue;
    const last = rows[rows.length - 1];
    if (last && last[0] + last[1] === a && last[2] === hit.mr && last[3] + last[1] === hit.off && last[4] === hit.ro && last[5] === hit.nv) {
      last[1] += 1n;
    } else {
      rows.push([a, 1n, hit.mr, hit.off, hit.ro, hit.nv]);
    }
  }
  return rows;
}

// ------------------------------------------------------------------ runner

const stats = { runs: 0, nonEmpty: 0, ranges: 0, withOffset: 0, readonly: 0, near2_64: 0 };

function run(sc: Scenario): Row[] {
  const nodes: SNode[] = [];
  const mrs: MemoryRegion[] = [];
  let seq = 0;
  const mk = (kind: Kind, size: bigint, mr: MemoryRegion, extra: Partial<SNode> = {}) => {
    nodes.push({ kind, size, target: -1, aliasOffset: 0n, enabled: true, readonly: false, nonvolatile: false, parent: -1, addr: 0n, prio: 0, seq: 0, ...extra });
    mrs.push(mr);
  };
  mk('container', TWO_64, MemoryRegion.container('root', TWO_64));
  mk('container', WIN, MemoryRegion.container('win', WIN));
  mrs[ROOT].addSubregion(sc.base, mrs[WINDOW]);
  nodes[WINDOW].parent = ROOT;
  nodes[WINDOW].addr = sc.base;
  nodes[WINDOW].seq = ++seq;

  sc.regions.forEach((r, k) => {
    const idx = nodes.length;
    const size = BigInt(r.size);
    if (r.kind === 'alias') {
      // an earlier region (so alias chains are acyclic); now and then the window itself
      const t = idx > 2 && r.target % 5 !== 0 ? 2 + (r.target % (idx - 2)) : WINDOW;
      mk('alias', size, MemoryRegion.alias(`r${idx}`, mrs[t], r.aliasOffset, size), { target: t, aliasOffset: BigInt(r.aliasOffset) });
    } else if (r.kind === 'io') {
      mk('io', size, MemoryRegion.io(`r${idx}`, size));
    } else {
      mk('container', size, MemoryRegion.container(`r${idx}`, size));
    }
    void k;
    if (r.readonly) { mrs[idx].setReadonly(true); nodes[idx].readonly = true; }
    if (r.nonvolatile) { mrs[idx].setNonvolatile(true); nodes[idx].nonvolatile = true; }
    if (!r.enabled) { mrs[idx].setEnabled(false); nodes[idx].enabled = false; }
  });

  const as = new AddressSpace(mrs[ROOT], 'prop');
  try {
    const n = nodes.length;
    const tryAdd = (child: number, parent: number, addr: number, prio: number) => {
      try {
        mrs[parent].addSubregionOverlap(addr, mrs[child], prio);
      } catch {
        return; // already has a container, self, or a cycle: refused, nothing changed
      }
      Object.assign(nodes[child], { parent, addr: BigInt(addr), prio, seq: ++seq });
    };
    const apply = () => {
      sc.regions.forEach((r, k) => {
        if (r.attach) tryAdd(2 + k, 1 + (r.attach.parent % (n - 1)), r.attach.addr, r.attach.prio);
      });
      for (const a of sc.adds) {
        const child = 2 + (a.child % (n - 2));
        const parent = 1 + (a.parent % (n - 1));
        tryAdd(child, parent, a.addr, a.prio);
      }
      for (const m of sc.mutations) {
        const i = 2 + (m.i % (n - 2));
        const node = nodes[i];
        const mr = mrs[i];
        switch (m.op) {
          case 0: mr.setEnabled(m.b); node.enabled = m.b; break;
          case 1: {
            const addr = BigInt(m.v);
            if (addr !== node.addr) {
              mr.setAddress(addr);
              node.addr = addr;
              if (node.parent >= 0) node.seq = ++seq; // re-added: newest of its priority
            }
            break;
          }
          case 2:
            if (node.parent >= 0) { mrs[node.parent].removeSubregion(mr); node.parent = -1; }
            break;
          case 3: mr.setReadonly(m.b); node.readonly = m.b; break;
          case 4:
            if (node.kind === 'alias') { mr.setAliasOffset(m.v); node.aliasOffset = BigInt(m.v); }
            break;
          case 5: mr.setSize(m.v); node.size = BigInt(m.v); break;
          case 6: mr.setNonvolatile(m.b); node.nonvolatile = m.b; break;
        }
      }
    };
    if (sc.batch) transaction(apply);
    else apply();

    const got: Row[] = as.flatView().map((fr) => [fr.start, fr.size, mrs.indexOf(fr.mr), fr.offsetInRegion, fr.readonly, fr.nonvolatile]);
    const want = reference(nodes, sc.base);
    expect(got).toEqual(want);
    stats.runs++;
    stats.ranges += want.length;
    if (want.length > 0) stats.nonEmpty++;
    if (want.some((r) => r[3] !== 0n)) stats.withOffset++;
    if (want.some((r) => r[4])) stats.readonly++;
    if (sc.base + WIN > TWO_64 && want.length > 0) stats.near2_64++;
    // and a freshly created address space (first render, no commits) agrees
    const fresh = new AddressSpace(mrs[ROOT], 'fresh');
    try {
      expect(fresh.flatView()).toEqual(as.flatView());
    } finally {
      fresh.destroy();
    }
    return want;
  } finally {
    as.destroy();
  }
}

test('random trees render exactly like the per-address reference', () => {
  fc.assert(fc.property(scenarioArb, (sc) => { run(sc); }), { numRuns: 1000 });
  // the generator must actually exercise the interesting cases
  expect(stats.nonEmpty).toBeGreaterThan(stats.runs / 3);
  expect(stats.ranges).toBeGreaterThan(stats.runs / 2);
  expect(stats.withOffset).toBeGreaterThan(10);
  expect(stats.readonly).toBeGreaterThan(10);
  expect(stats.near2_64).toBeGreaterThan(10);
  console.log(JSON.stringify(stats));
});

test('the reference itself agrees with QEMU on the memory.rst example', () => {
  // sanity check of the test's own evaluator on a documented result (§2.2)
  const sc: Scenario = {
    base: 0x1000n,
    regions: [
      // index 2: C, 3: B, 4: D, 5: E; attach.parent p means region 1+p (0 = the window)
      { kind: 'io', size: 0x60, target: 0, aliasOffset: 0, enabled: true, readonly: false, nonvolatile: false, attach: { parent: 0, addr: 0, prio: 1 } },
      { kind: 'container', size: 0x40, target: 0, aliasOffset: 0, enabled: true, readonly: false, nonvolatile: false, attach: { parent: 0, addr: 0x20, prio: 2 } },
      { kind: 'io', size: 0x10, target: 0, aliasOffset: 0, enabled: true, readonly: false, nonvolatile: false, attach: { parent: 2, addr: 0, prio: 0 } },
      { kind: 'io', size: 0x10, target: 0, aliasOffset: 0, enabled: true, readonly: false, nonvolatile: false, attach: { parent: 2, addr: 0x20, prio: 0 } },
    ],
    adds: [],
    mutations: [],
    batch: false,
  };
  const nodesSeen = run(sc);
  // QEMU: [C 0-1f][D 20-2f][C 30-3f @30][E 40-4f][C 50-5f @50] (scaled by 1/0x100, window at 0x1000)
  expect(nodesSeen).toEqual([
    [0x1000n, 0x20n, 2, 0n, false, false],
    [0x1020n, 0x10n, 4, 0n, false, false],
    [0x1030n, 0x10n, 2, 0x30n, false, false],
    [0x1040n, 0x10n, 5, 0n, false, false],
    [0x1050n, 0x10n, 2, 0x50n, false, false],
  ]);
});
