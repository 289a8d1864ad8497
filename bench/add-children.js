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
// is checked on both.
// Build first:  npx tsc -p tsconfig.build.json   then:  node bench/add-children.js
const v8 = require('v8');
const vm = require('vm');
const { MemoryRegion, AddressSpace, transaction } = require('../dist/memory');

// gc() without a command-line flag: the flag only has to be set before the
// function is made, which a fresh context does
v8.setFlagsFromString('--expose-gc');
const gc = global.gc ?? vm.runInNewContext('gc');

const sizes = [10000, 100000];
/** rounds per row; the best is shown (a shared host's noise only ever adds time) */
const ROUNDS = 7;
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

/** one round: { addMs, addCpuMs, chargedMs, removeMs } for n children in the given order */
function round(n, order, prio) {
  gc();
  const root = MemoryRegion.container('system', 1n << 64n);
  const as = new AddressSpace(root, 'bench');
  const slots = orders[order](n);
  // 4 KiB devices 8 KiB apart, so that every one is its own FlatRange
  const kids = slots.map((slot) => ({ mr: MemoryRegion.io('dev', 0x1000n), addr: BigInt(slot) * 0x2000n, prio: priorities[prio](slot) }));
  let t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  transaction(() => {
    for (const k of kids) root.addSubregionOverlap(k.addr, k.mr, k.prio);
  });
  const addMs = ms(t0);
  const addCpuMs = cpuMs(c0);
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
  as.destroy();
  return { addMs, addCpuMs, chargedMs, removeMs };
}

// warm up (JIT) on every shape first, so that the 10k rows measure the code, not the compiler
for (const prio of Object.keys(priorities)) for (const order of Object.keys(orders)) round(sizes[0], order, prio);

const rows = [];
// worst 100k time and worst 10k->100k growth: wall time, wall time with the
// scavenge charged, CPU time of all threads
const worst = { wall: { ms: 0, growth: 0 }, charged: { ms: 0, growth: 0 }, cpu: { ms: 0, growth: 0 } };
const metric = { wall: 'addMs', charged: 'chargedMs', cpu: 'addCpuMs' };
for (const prio of Object.keys(priorities)) {
  for (const order of Object.keys(orders)) {
    let prev = null;
    for (const n of sizes) {
      const best = { addMs: Infinity, addCpuMs: Infinity, chargedMs: Infinity, removeMs: Infinity };
      for (let k = 0; k < ROUNDS; k++) {
        const r = round(n, order, prio);
        for (const key of Object.keys(best)) best[key] = Math.min(best[key], r[key]);
      }
      const growth = {};
      for (const [m, key] of Object.entries(metric)) {
        if (prev === null) continue;
        growth[m] = best[key] / prev[key];
        worst[m].growth = Math.max(worst[m].growth, growth[m]);
      }
      if (n === sizes[sizes.length - 1]) for (const [m, key] of Object.entries(metric)) worst[m].ms = Math.max(worst[m].ms, best[key]);
      const times = (g) => (g === undefined ? '-' : g.toFixed(2) + 'x');
      rows.push({
        children: n, order, priorities: prio,
        'add+render ms': best.addMs.toFixed(1),
        growth: times(growth.wall),
        '+scavenge ms': best.chargedMs.toFixed(1),
        'growth ': times(growth.charged),
        'cpu ms': best.addCpuMs.toFixed(1),
        'cpu growth': times(growth.cpu),
        'remove+render ms': best.removeMs.toFixed(1),
      });
      prev = best;
    }
  }
}
console.table(rows);
// Wall time is the target, with and without the scavenge charged.  CPU
// time (all threads, so parallel GC counts several times) is shown for a
// shared, busy host, where wall time mostly measures the other processes.
const met = (m) => worst[m].ms < 1000 && worst[m].growth <= 15;
for (const [m, label] of [['wall', 'add+render'], ['charged', 'add+render+scavenge']]) {
  console.log(`${met(m) ? 'target met' : 'TARGET MISSED'}: worst 100k ${label} ${worst[m].ms.toFixed(1)} ms (target < 1000 ms), ` +
    `worst 10k->100k growth ${worst[m].growth.toFixed(2)}x (target <= 15x)`);
}
console.log(`cpu time: worst 100k add+render ${worst.cpu.ms.toFixed(1)} ms, worst 10k->100k growth ${worst.cpu.growth.toFixed(2)}x`);
