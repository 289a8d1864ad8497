'use strict';
// Many children in one container: 10,000 and 100,000 MMIO regions added in one
// transaction (the commit renders them), then removed in one transaction, in
// ascending, descending and random address order, all at one priority or at
// mixed priorities.  Target: 100,000 added and rendered in < 1 s, and at most
// 15x growth from 10,000 to 100,000.
//
// Every round starts from a collected heap (gc() before it, so that no
// round pays for the garbage of the one before), then builds its regions
// and address list; only adding them in one transaction (the commit renders
// them) and removing them are timed.  A 10,000-child round allocates less
// than the young generation holds, so it can end before any scavenge and
// leave its survivors for a later one to copy, while a 100,000-child round
// pays for several inside its own time: the "+scavenge" columns charge
// every round with one scavenge right after it (the new view still alive),
// so that both sizes pay for the young generation they filled.  The target
// is checked on both, and on removing (the issue asks for adding and
// removing in O(log n) or amortised O(1) alike).
//
// Noise: the best of ROUNDS rounds is shown (noise only ever adds time).
// The rounds of one size run one after the other; alternating the sizes
// (10k, 100k, 10k, ...) was tried and is not done: a 10,000-child round
// right after a 100,000-child one runs on a heap and caches the large
// round left cold, 2-3 ms slower here, which flatters the growth.  The
// "faults" column is the fewest minor page faults an add
// took: the memory a round touches for the first time since the gc()
// before it (V8 gives pages back on a full collection); a host whose page
// faults are slow (a VM whose memory its host backs lazily) shows up there
// rather than as a mystery in the times.  The "touch ms" column reads one
// field of every removed region in the order they were removed (random):
// the cache and TLB misses any removal in that order pays, whose growth is
// the host's, not the code's.
// Build first:  npx tsc -p tsconfig.build.json   then:  node bench/add-children.js
const v8 = require('v8');
const vm = require('vm');
const { MemoryRegion, AddressSpace, transaction } = require('../dist/memory');

// gc() without a command-line flag: the flag only has to be set before the
// function is made, which a fresh context does
v8.setFlagsFromString('--expose-gc');
const gc = global.gc ?? vm.runInNewContext('gc');

const sizes = [10000, 100000];
/** rounds per row and size; the best is shown (a shared host's noise only ever adds time) */
const ROUNDS = 9;
const orders = {
  ascending: (n) => Array.from({ length: n }, (_, i) => i),
  descending: (n) => Array.from({ length: n }, (_, i) => n - 1 - i),
  random: (n) => shuffle(Array.from({ length: n }, (_, i) => i)),
};
const priorities = {
  equal: () => 0,
  mixed: (i) => (i * 7919) % 7 - 3,
};

/** deterministic Fisher-Yates (xorshift32), so every run adds in the same order */
function shuffle(a) {
  let s = 0x9e3779b9;
  for (let i = a.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** CPU ms of the whole process (GC threads included) since c0: steadier than wall time on a shared host */
function cpuMs(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e3;
}

/** minor page faults of the process so far */
function faults() {
  return process.resourceUsage().minorPageFault;
}

/** one round: { addMs, addCpuMs, chargedMs, removeMs, addFaults, touchMs } for n children in the given order */
function round(n, order, prio) {
  gc();
  const root = MemoryRegion.container('system', 1n << 64n);
  const as = new AddressSpace(root, 'bench');
  const slots = orders[order](n);
  // 4 KiB devices 8 KiB apart, so that every one is its own FlatRange
  const kids = slots.map((slot) => ({ mr: MemoryRegion.io('dev', 0x1000n), addr: BigInt(slot) * 0x2000n, prio: priorities[prio](slot) }));
  const f0 = faults();
  let t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  transaction(() => {
    for (const k of kids) root.addSubregionOverlap(k.addr, k.mr, k.prio);
  });
  const addMs = ms(t0);
  const addCpuMs = cpuMs(c0);
  const addFaults = faults() - f0;
  const t1 = process.hrtime.bigint();
  gc({ type: 'minor' });
  const chargedMs = addMs + ms(t1);
  const ranges = as.currentView.ranges.length;
  if (ranges !== n) throw new Error(`expected ${n} ranges, got ${ranges}`);
  shuffle(kids);
  t0 = process.hrtime.bigint();
  transaction(() => {
    for (const k of kids) root.removeSubregion(k.mr);
  });
  const removeMs = ms(t0);
  if (as.currentView.ranges.length !== 0) throw new Error('children left after removing all');
  // the floor of any removal in this order: reading one field of every
  // region, in the same order (after the removal, so that it does not warm
  // the caches for it)
  t0 = process.hrtime.bigint();
  let left = 0;
  for (const k of kids) if (k.mr.container !== null) left++;
  const touchMs = ms(t0);
  if (left !== 0) throw new Error('children left after removing all');
  as.destroy();
  return { addMs, addCpuMs, chargedMs, removeMs, addFaults, touchMs };
}

// A small machine's worth of regions, ranges and a view, alive for the
// whole run, as a program using the library always has them.  V8 holds an
// object shape (map) reached by adding fields only weakly: a gc() that finds
// no region, FlatRange or view alive lets their shapes die and throws away
// all optimized code checking for them, so without these every round after
// the gc() ran mostly unoptimized code (5-10x slower at 10k on a busy host,
// where the compiler threads wait for a core) and measured the compiler.
const kept = (() => {
  const root = MemoryRegion.container('kept', 1n << 64n);
  const as = new AddressSpace(root, 'kept');
  transaction(() => {
    for (let i = 0; i < 4; i++) root.addSubregionOverlap(BigInt(i) * 0x2000n, MemoryRegion.io('kept', 0x1000n), i % 2);
  });
  return { root, as, view: as.currentView };
})();

// warm up (JIT) on every shape first, so that the 10k rows measure the code, not the compiler
for (const prio of Object.keys(priorities)) for (const order of Object.keys(orders)) round(sizes[0], order, prio);

const rows = [];
// worst 100k time and worst 10k->100k growth: wall time, wall time with the
// scavenge charged, CPU time of all threads, removing
const worst = { wall: { ms: 0, growth: 0 }, charged: { ms: 0, growth: 0 }, cpu: { ms: 0, growth: 0 }, remove: { ms: 0, growth: 0 } };
const metric = { wall: 'addMs', charged: 'chargedMs', cpu: 'addCpuMs', remove: 'removeMs' };
for (const prio of Object.keys(priorities)) {
  for (const order of Object.keys(orders)) {
    const best = sizes.map(() => ({ addMs: Infinity, addCpuMs: Infinity, chargedMs: Infinity, removeMs: Infinity, addFaults: Infinity, touchMs: Infinity }));
    sizes.forEach((n, i) => {
      for (let k = 0; k < ROUNDS; k++) {
        const r = round(n, order, prio);
        for (const key of Object.keys(best[i])) best[i][key] = Math.min(best[i][key], r[key]);
      }
    });
    sizes.forEach((n, i) => {
      const b = best[i];
      const prev = i > 0 ? best[i - 1] : null;
      const growth = {};
      for (const [m, key] of Object.entries(metric)) {
        if (prev === null) continue;
        growth[m] = b[key] / prev[key];
        worst[m].growth = Math.max(worst[m].growth, growth[m]);
      }
      if (i === sizes.length - 1) for (const [m, key] of Object.entries(metric)) worst[m].ms = Math.max(worst[m].ms, b[key]);
      const times = (g) => (g === undefined ? '-' : g.toFixed(2) + 'x');
      rows.push({
        children: n, order, priorities: prio,
        'add+render ms': b.addMs.toFixed(1),
        growth: times(growth.wall),
        '+scavenge ms': b.chargedMs.toFixed(1),
        'growth ': times(growth.charged),
        'cpu ms': b.addCpuMs.toFixed(1),
        'cpu growth': times(growth.cpu),
        faults: b.addFaults,
        'remove+render ms': b.removeMs.toFixed(1),
        'growth  ': times(growth.remove),
        'touch ms': b.touchMs.toFixed(1),
      });
    });
  }
}
console.table(rows);
// Wall time is the target, with and without the scavenge charged.  CPU
// time (all threads, so parallel GC counts several times) is shown for a
// shared, busy host, where wall time mostly measures the other processes.
const met = (m) => worst[m].ms < 1000 && worst[m].growth <= 15;
for (const [m, label] of [['wall', 'add+render'], ['charged', 'add+render+scavenge'], ['remove', 'remove+render']]) {
  console.log(`${met(m) ? 'target met' : 'TARGET MISSED'}: worst 100k ${label} ${worst[m].ms.toFixed(1)} ms (target < 1000 ms), ` +
    `worst 10k->100k growth ${worst[m].growth.toFixed(2)}x (target <= 15x${m === 'remove' ? ', the add target applied to removing' : ''})`);
}
if (kept.as.currentView.ranges.length !== 4) throw new Error('the kept view changed');
console.log(`cpu time: worst 100k add+render ${worst.cpu.ms.toFixed(1)} ms, worst 10k->100k growth ${worst.cpu.growth.toFixed(2)}x`);
