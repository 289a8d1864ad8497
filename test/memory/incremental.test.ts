/**
 * Incremental commits must be indistinguishable from QEMU's full re-render.
 *
 * Differential property test: one random scenario (region tree with
 * containers, MMIO, ROM devices, aliases of aliases, aliases of unmapped
 * regions, disabled containers, overlapping priorities, extents up to and
 * across 2^64, several address spaces sharing regions and FlatViews) and one
 * random sequence of mutations, batched into transactions, is run twice:
 * once with every commit rendered from scratch (QEMU's way) and once with
 * incremental commits plus NODE_KVM_VERIFY_RENDER checking (every patched
 * view is compared with a full render, every span-limited listener diff with
 * the full diff, inside the library).  After every commit both runs must
 * show the same FlatRanges (dirty log mask and romd included), the same
 * view sharing between address spaces, and the listeners must have received
 * exactly the same calls in the same order.
 */
import fc from 'fast-check';
import {
  AddressSpace, type FlatRange, flatviewRoot, MemoryRegion, type MemoryListener, type MemoryRegionSection, renderFlatView, TWO_64,
  startGlobalDirtyLog, stopGlobalDirtyLog, transaction,
} from '../../lib/memory';
import { setFlatChunkSize } from '../../lib/memory/flat-view';
import { setIndexMinChildren } from '../../lib/memory/render';
import { renderStats, setIncrementalRender, setRenderVerification } from '../../lib/memory/incremental';

type Kind = 'container' | 'io' | 'alias' | 'romd';

interface RSpec {
  kind: Kind;
  size: number; // < 0: huge (2^64 or 2^64 - 0x30)
  target: number;
  aliasOffset: number;
  enabled: boolean;
  readonly: boolean;
  parent: number; // < 0: left unattached
  addr: number;
  prio: number;
}

interface Op { op: number; i: number; j: number; v: number; b: boolean }

interface Scenario {
  base: bigint;
  regions: RSpec[];
  as3Root: number;
  ops: Op[];
  /** transaction sizes: ops are consumed in batches of these lengths */
  batches: number[];
  /** FlatView chunk size: tiny chunks put chunk boundaries everywhere */
  chunk: number;
  /** containers with at least this many children use the address index (1: all of them) */
  indexMin: number;
}

const M64 = TWO_64 - 1n;

const rspec = fc.record({
  kind: fc.constantFrom<Kind>('container', 'container', 'io', 'io', 'alias', 'alias', 'romd'),
  size: fc.oneof(fc.integer({ min: 1, max: 0x60 }), fc.integer({ min: 1, max: 0x60 }), fc.constantFrom(0, 0x10, 0x40, 0x100, -1, -2)),
  target: fc.nat(),
  aliasOffset: fc.oneof(fc.integer({ min: 0, max: 0x50 }), fc.constant(0)),
  enabled: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(true), fc.constant(false)),
  readonly: fc.oneof(fc.constant(false), fc.constant(false), fc.constant(false), fc.constant(true)),
  parent: fc.oneof(fc.constant(0), fc.integer({ min: -1, max: 30 }), fc.integer({ min: 0, max: 30 })),
  addr: fc.integer({ min: 0, max: 0x70 }),
  prio: fc.integer({ min: -2, max: 2 }),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  base: fc.constantFrom(0n, 0x1000n, TWO_64 - 0x80n, TWO_64 - 0x40n),
  regions: fc.array(rspec, { minLength: 3, maxLength: 16 }),
  as3Root: fc.nat(),
  ops: fc.array(fc.record({ op: fc.integer({ min: 0, max: 15 }), i: fc.nat(), j: fc.nat(), v: fc.integer({ min: 0, max: 0x70 }), b: fc.boolean() }), { minLength: 1, maxLength: 24 }),
  batches: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 24 }),
  chunk: fc.constantFrom(1, 2, 3, 5, 128),
  indexMin: fc.constantFrom(0, 1, 2, 32),
});

const hex = (v: bigint) => v.toString(16);

interface Outcome {
  /** per commit: every AS's ranges + the view sharing */
  snapshots: string[];
  /** every listener call, in order */
  calls: string[];
}

const romdOps = { read: () => 0, write: () => undefined };

function run(sc: Scenario, incremental: boolean): Outcome {
  const wasChunk = setFlatChunkSize(sc.chunk);
  const wasIndexMin = setIndexMinChildren(sc.indexMin, sc.indexMin <= 2);
  const wasInc = setIncrementalRender(incremental);
  const wasVerify = setRenderVerification(incremental);
  const calls: string[] = [];
  const snapshots: string[] = [];
  const mrs: MemoryRegion[] = [];
  const spaces: (AddressSpace | null)[] = [];
  let globalLog = false;
  const sec = (s: MemoryRegionSection) =>
    `${s.mr.name}@${hex(s.offsetWithinAddressSpace)}+${hex(s.size)} off ${hex(s.offsetWithinRegion)}${s.readonly ? ' ro' : ''}${s.nonvolatile ? ' nv' : ''}`;
  const recorder = (tag: string, priority: number, nop: boolean): MemoryListener => {
    const l: MemoryListener = {
      priority,
      begin: () => calls.push(`${tag} begin`),
      commit: () => calls.push(`${tag} commit`),
      regionAdd: (s) => calls.push(`${tag} add ${sec(s)}`),
      regionDel: (s) => calls.push(`${tag} del ${sec(s)}`),
      logStart: (s, o, n) => calls.push(`${tag} logStart ${sec(s)} ${o}->${n}`),
      logStop: (s, o, n) => calls.push(`${tag} logStop ${sec(s)} ${o}->${n}`),
    };
    if (nop) l.regionNop = (s) => calls.push(`${tag} nop ${sec(s)}`);
    return l;
  };
  const snapshot = (label: string) => {
    const live = spaces.filter((s): s is AddressSpace => s !== null);
    const lines = [label];
    for (const as of live) {
      const share = live.findIndex((o) => o.currentView === as.currentView);
      lines.push(`${as.name} (view of ${live[share].name}) root=${as.currentView.root?.name ?? '-'}: ` + as.flatView().map((fr) =>
        `${hex(fr.start)}+${hex(fr.size)} ${fr.mr.name}@${hex(fr.offsetInRegion)} m${fr.dirtyLogMask}${fr.romdMode ? '' : ' !romd'}${fr.readonly ? ' ro' : ''}${fr.nonvolatile ? ' nv' : ''}`).join(', '));
    }
    snapshots.push(lines.join('\n'));
  };
  try {
    // fixed part: 0 system, 1 bus-master container, 2 its full alias of system, 3 a window alias of system
    const system = MemoryRegion.container('r0', TWO_64);
    const bm = MemoryRegion.container('r1', TWO_64);
    const bmAlias = MemoryRegion.alias('r2', system, 0, TWO_64);
    const winAlias = MemoryRegion.alias('r3', system, sc.base, 0x100);
    bm.addSubregion(0, bmAlias);
    mrs.push(system, bm, bmAlias, winAlias);
    const fixed = mrs.length;
    sc.regions.forEach((r, k) => {
      const idx = fixed + k;
      const name = `r${idx}`;
      const size = r.size === -1 ? TWO_64 : r.size === -2 ? TWO_64 - 0x30n : BigInt(r.size);
      let mr: MemoryRegion;
      if (r.kind === 'alias') {
        // any earlier region: aliases of aliases, of unmapped regions, of system itself
        mr = MemoryRegion.alias(name, mrs[r.target % idx], r.aliasOffset, size);
      } else if (r.kind === 'io') {
        mr = MemoryRegion.io(name, size);
      } else if (r.kind === 'romd') {
        mr = MemoryRegion.romDevice(name, size === 0n || size > 0x1000n ? 0x40n : size, romdOps);
      } else {
        mr = MemoryRegion.container(name, size);
      }
      mrs.push(mr);
      if (r.readonly) mr.setReadonly(true);
      if (!r.enabled) mr.setEnabled(false);
    });
    sc.regions.forEach((r, k) => {
      if (r.parent < 0) return;
      const idx = fixed + k;
      const p = r.parent % idx === 1 || r.parent % idx === 2 ? 0 : r.parent % idx; // keep bm's single child
      const addr = p === 0 ? (sc.base + BigInt(r.addr)) & M64 : BigInt(r.addr);
      try {
        mrs[p].addSubregionOverlap(addr, mrs[idx], r.prio);
      } catch {
        // a cycle or a second container: refused, nothing changed
      }
    });
    const as3root = mrs[sc.as3Root % mrs.length];
    spaces.push(new AddressSpace(system, 'memory'), new AddressSpace(bm, 'bus-master'), new AddressSpace(winAlias, 'window'),
      new AddressSpace(as3root, 'other'));
    spaces[0]!.addListener(recorder('M10', 10, false));
    spaces[0]!.addListener(recorder('M0', 0, false));
    spaces[1]!.addListener(recorder('B', 0, true));
    spaces[2]!.addListener(recorder('W', 5, false));
    spaces[3]!.addListener(recorder('O', 0, false));
    snapshot('initial');

    const n = mrs.length;
    const apply = (o: Op) => {
      const mr = mrs[o.i % n];
      const other = mrs[o.j % n];
      const addr = BigInt(o.v);
      try {
        switch (o.op) {
          case 0: case 1: mr.setEnabled(!mr.enabled); break;
          case 2: mr.setAddress(mr.container === system ? (sc.base + addr) & M64 : addr); break;
          case 3: if (mr.container) mr.container.removeSubregion(mr); break;
          case 4: other.addSubregionOverlap(other === system ? (sc.base + addr) & M64 : addr, mr, (o.v % 5) - 2); break;
          case 5: mr.setReadonly(o.b); break;
          case 6: mr.setNonvolatile(o.b); break;
          case 7: if (mr.isAlias) mr.setAliasOffset(o.b ? addr : 0n); break;
          case 8: if (!mr.ramBlock) mr.setSize(o.v === 0x70 ? TWO_64 : o.v === 0x6f ? TWO_64 - addr : addr); break;
          case 9: mr.setDirtyLogging(o.b); break;
          case 10: if (mr.isRomDevice) mr.setRomdMode(o.b); break;
          case 11:
            // rare: global dirty logging flips
            if (o.v % 8 === 0) {
              if (globalLog) stopGlobalDirtyLog();
              else startGlobalDirtyLog();
              globalLog = !globalLog;
            }
            break;
          case 12:
            // rare: the fourth AS is destroyed and re-created on another root
            if (o.v % 4 === 0 && !mr.closed) {
              spaces[3]?.destroy();
              spaces[3] = new AddressSpace(mr, 'other');
              spaces[3].addListener(recorder('O', 0, o.b));
            }
            break;
          case 13:
            // rare: close (finalize) a region that is not a fixed one
            if (o.v % 6 === 0 && o.i % n >= fixed && spaces.every((s) => s === null || s.root !== mr)) mr.close();
            break;
          default: {
            // move between containers
            if (mr.container) mr.container.removeSubregion(mr);
            other.addSubregion(other === system ? (sc.base + addr) & M64 : addr, mr);
          }
        }
      } catch (e) {
        calls.push(`refused ${(e as Error).constructor.name}`);
      }
    };
    let k = 0;
    let b = 0;
    while (k < sc.ops.length) {
      const len = sc.batches[b++] ?? 1;
      const batch = sc.ops.slice(k, k + len);
      k += len;
      if (batch.length === 1) apply(batch[0]);
      else transaction(() => batch.forEach(apply));
      snapshot(`after ops ${k - batch.length}..${k - 1}`);
    }
    return { snapshots, calls };
  } finally {
    if (globalLog) stopGlobalDirtyLog();
    for (const s of spaces) s?.destroy();
    for (const mr of mrs) if (mr.ramBlock) mr.close();
    setIncrementalRender(wasInc);
    setRenderVerification(wasVerify);
    setFlatChunkSize(wasChunk);
    setIndexMinChildren(wasIndexMin);
  }
}

const stats = { runs: 0, commits: 0, calls: 0, adds: 0, dels: 0, logs: 0 };

test('incremental commits give the same views and listener calls as full re-renders', () => {
  const before = { ...renderStats };
  fc.assert(fc.property(scenarioArb, (sc) => {
    const full = run(sc, false);
    const inc = run(sc, true);
    expect(inc.snapshots).toEqual(full.snapshots);
    expect(inc.calls).toEqual(full.calls);
    stats.runs++;
    stats.commits += full.snapshots.length - 1;
    stats.calls += full.calls.length;
    for (const c of full.calls) {
      if (c.includes(' add ')) stats.adds++;
      else if (c.includes(' del ')) stats.dels++;
      else if (c.includes(' log')) stats.logs++;
    }
  }), { numRuns: Number(process.env.INC_RUNS ?? 600) });
  const inc = renderStats.incremental - before.incremental;
  const windows = renderStats.windows - before.windows;
  console.log(JSON.stringify({ ...stats, incrementalViews: inc, windows, fullRenders: renderStats.full - before.full, fallbacks: renderStats.fallbacks - before.fallbacks }));
  // the generator must exercise the incremental path, with real changes
  expect(inc).toBeGreaterThan(stats.commits);
  expect(windows).toBeGreaterThan(stats.commits / 2);
  expect(stats.adds).toBeGreaterThan(stats.runs);
  expect(stats.dels).toBeGreaterThan(stats.runs);
  expect(stats.logs).toBeGreaterThan(10);
});

// ------------------------------------------------------------------ targeted cases

/** a deterministic PRNG for the larger trees (fast-check shrinking is not useful at this size) */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const rowOf = (fr: FlatRange) => `${hex(fr.start)}+${hex(fr.size)} ${fr.mr.name}@${hex(fr.offsetInRegion)} m${fr.dirtyLogMask}${fr.readonly ? ' ro' : ''}${fr.nonvolatile ? ' nv' : ''}${fr.romdMode ? '' : ' !romd'}`;

function viewRows(as: AddressSpace): string[] {
  return as.flatView().map(rowOf);
}

/** what QEMU's from-scratch render of the AS's current tree gives */
function fullRows(as: AddressSpace): string[] {
  return renderFlatView(flatviewRoot(as.root)).ranges.map(rowOf);
}

test('a 3,000-region tree: 200 random changes, each commit equal to a full render, only the affected ranges reported', () => {
  const wasVerify = setRenderVerification(true);
  const rnd = prng(12345);
  const system = MemoryRegion.container('system', TWO_64);
  const pci = MemoryRegion.container('pci', TWO_64);
  system.addSubregionOverlap(0, pci, -1);
  const bg = MemoryRegion.io('bg', 0x100000);
  pci.addSubregionOverlap(0x10000000, bg, -5);
  const all: MemoryRegion[] = [pci, bg];
  // 1,500 BARs side by side in one container (the indexed path), some overlapping
  for (let i = 0; i < 1500; i++) {
    const bar = MemoryRegion.io(`bar${i}`, 0x800 + rnd(0x1000));
    pci.addSubregionOverlap(0x10000000 + i * 0x1000, bar, rnd(4) === 0 ? 1 : 0);
    all.push(bar);
  }
  // groups with aliases into the BAR container and into unmapped regions
  const hidden = MemoryRegion.container('hidden', 0x10000);
  for (let i = 0; i < 40; i++) hidden.addSubregion(i * 0x400, MemoryRegion.io(`hid${i}`, 0x300));
  for (let g = 0; g < 140; g++) {
    const grp = MemoryRegion.container(`grp${g}`, 0x10000);
    for (let i = 0; i < 9; i++) {
      const k = rnd(4);
      const mr = k === 0 ? MemoryRegion.alias(`al${g}.${i}`, pci, 0x10000000 + rnd(0x600000), 0x1800)
        : k === 1 ? MemoryRegion.alias(`ah${g}.${i}`, hidden, rnd(0x8000), 0x2000)
          : MemoryRegion.io(`dev${g}.${i}`, 0x1000 + rnd(0x800));
      grp.addSubregionOverlap(i * 0x1800, mr, rnd(3) - 1);
      all.push(mr);
    }
    system.addSubregion(0x100000000 + g * 0x20000, grp);
    all.push(grp);
  }
  // an alias of an alias, and a second AS through a window of system
  const aa = MemoryRegion.alias('alias-of-alias', all[1600], 0x100, 0x1000);
  system.addSubregion(0x200000000, aa);
  const window = MemoryRegion.alias('window', system, 0x10000000, 0x200000);
  const as = new AddressSpace(system, 'memory');
  const as2 = new AddressSpace(window, 'window');
  const counts = { add: 0, del: 0 };
  as.addListener({ regionAdd: () => counts.add++, regionDel: () => counts.del++ });
  as2.addListener({ regionAdd: () => counts.add++, regionDel: () => counts.del++ });
  const before = renderStats.incremental;
  try {
    expect(as.flatView().length).toBeGreaterThan(1500);
    for (let step = 0; step < 200; step++) {
      const mr = all[rnd(all.length)];
      const op = rnd(7);
      counts.add = counts.del = 0;
      const apply = () => {
        switch (op) {
          case 0: mr.setEnabled(!mr.enabled); break;
          case 1: {
            const a = mr.addr + BigInt(rnd(0x2000)) - 0x1000n;
            if (mr.container) mr.setAddress(a > 0n ? a : 0n);
            break;
          }
          case 2: mr.setReadonly(!mr.readonly); break;
          case 3: mr.setDirtyLogging(!mr.dirtyLogging); break;
          case 4: mr.setSize(0x400 + rnd(0x2000)); break;
          case 5: if (mr.isAlias) mr.setAliasOffset(rnd(0x4000)); break;
          default: transaction(() => { mr.setEnabled(!mr.enabled); all[rnd(all.length)].setNonvolatile(rnd(2) === 0); });
        }
      };
      apply();
      // (joined: jest's deep equality on thousands of rows is slower than the renders)
      expect(viewRows(as).join('\n')).toBe(fullRows(as).join('\n'));
      expect(viewRows(as2).join('\n')).toBe(fullRows(as2).join('\n'));
      // a BAR toggled on or off changes at most a handful of ranges, never a re-report of the map
      if (op === 0 && mr.name.startsWith('bar')) expect(counts.add + counts.del).toBeLessThan(40);
    }
    expect(renderStats.incremental - before).toBeGreaterThan(160);
  } finally {
    as.destroy();
    as2.destroy();
    setRenderVerification(wasVerify);
  }
});

test('damage fanning out through too many alias paths falls back to a full render, still exact', () => {
  const wasVerify = setRenderVerification(true);
  const system = MemoryRegion.container('system', TWO_64);
  const target = MemoryRegion.io('target', 0x1000);
  // 25,000 mapped aliases of one region exceed the mapping budget
  const box = MemoryRegion.container('box', TWO_64);
  for (let i = 0; i < 25000; i++) box.addSubregion(i * 0x1000, MemoryRegion.alias(`a${i}`, target, 0, 0x1000));
  system.addSubregion(0, box);
  const as = new AddressSpace(system, 'memory');
  try {
    const before = { ...renderStats };
    target.setReadonly(true);
    expect(renderStats.fallbacks).toBeGreaterThan(before.fallbacks);
    expect(as.flatView().every((fr) => fr.readonly)).toBe(true);
    // each alias restarts at offset 0 of the target: nothing merges
    expect(as.flatView()).toHaveLength(25000);
  } finally {
    as.destroy();
    setRenderVerification(wasVerify);
  }
});

test('a listener that changes the map and creates an address space from its callbacks', () => {
  const wasVerify = setRenderVerification(true);
  const system = MemoryRegion.container('system', TWO_64);
  const a = MemoryRegion.io('a', 0x1000);
  const b = MemoryRegion.io('b', 0x1000);
  system.addSubregion(0, a);
  system.addSubregion(0x2000, b);
  const as = new AddressSpace(system, 'memory');
  const created: AddressSpace[] = [];
  const log: string[] = [];
  let armed = false;
  as.addListener({
    regionAdd: (s) => {
      log.push(`add ${s.mr.name}@${hex(s.offsetWithinAddressSpace)}`);
      if (armed && s.mr === a) {
        armed = false;
        // mid-commit: batched into a follow-up round; the new AS shares a view
        b.setAddress(0x4000);
        created.push(new AddressSpace(system, 'late'));
      }
    },
    regionDel: (s) => log.push(`del ${s.mr.name}@${hex(s.offsetWithinAddressSpace)}`),
  });
  try {
    log.length = 0;
    armed = true;
    a.setAddress(0x8000);
    expect(log).toEqual(['del a@0', 'add a@8000', 'del b@2000', 'add b@4000']);
    expect(viewRows(as)).toEqual(fullRows(as));
    expect(viewRows(created[0])).toEqual(fullRows(as));
    expect(created[0].currentView).toBe(as.currentView);
    a.setEnabled(false);
    expect(viewRows(created[0])).toEqual(fullRows(as));
  } finally {
    created.forEach((s) => s.destroy());
    as.destroy();
    setRenderVerification(wasVerify);
  }
});

test('an alias is known to its target only while it can be rendered (no references from unused aliases)', () => {
  const ram = MemoryRegion.io('target', 0x1000);
  const c = MemoryRegion.container('c', 0x10000);
  const al = MemoryRegion.alias('al', ram, 0, 0x1000);
  const al2 = MemoryRegion.alias('al2', al, 0, 0x1000);
  expect(ram._aliasUsers).toBeNull();
  c.addSubregion(0, al2); // al2 mapped: al is rendered through it, so both are users
  expect([...(al._aliasUsers ?? [])]).toEqual([al2]);
  expect([...(ram._aliasUsers ?? [])]).toEqual([al]);
  c.removeSubregion(al2);
  expect(al._aliasUsers).toBeNull();
  expect(ram._aliasUsers).toBeNull();
  const as = new AddressSpace(al, 'alias-root');
  expect([...(ram._aliasUsers ?? [])]).toEqual([al]);
  as.destroy();
  expect(ram._aliasUsers).toBeNull();
});
