'use strict';
// Render benchmark for the memory model: 1,000 / 10,000 / 100,000 regions.
// Build first:  npx tsc -p tsconfig.build.json   then:  node bench/render.js
//
// The tree is the shape that makes QEMU's gap filling quadratic: many small
// MMIO regions added in ascending address order (so, newest first, they are
// rendered from the top down and each one is inserted at the front of the
// view array), grouped in containers, some overlapping at higher priority,
// some aliases, all over a terminating low-priority background region that
// then fills every hole in one pass.
const { MemoryRegion, renderFlatView, flatviewRoot, AddressSpace, transaction } = require('../dist/memory');

function build(n) {
  const root = MemoryRegion.container('system', 1n << 64n);
  let count = 1;
  const bg = MemoryRegion.io('background', 1n << 64n);
  root.addSubregionOverlap(0n, bg, -1);
  count++;
  const groupSize = 10;
  let addr = 0x100000n;
  while (count < n) {
    const g = MemoryRegion.container('group', 0x10000n * BigInt(groupSize));
    count++;
    for (let i = 0; i < groupSize - 1 && count < n; i++) {
      const kind = i % 3;
      let mr;
      if (kind === 2 && count > 10) {
        mr = MemoryRegion.alias('alias', bg, BigInt(i) * 0x100n, 0x800n);
      } else {
        mr = MemoryRegion.io('dev', 0x1000n + BigInt(i) * 0x100n);
      }
      // overlapping neighbours at a higher priority every 4th region
      if (i % 4 === 3) g.addSubregionOverlap(BigInt(i) * 0x10000n - 0x800n, mr, 1);
      else g.addSubregion(BigInt(i) * 0x10000n, mr);
      count++;
    }
    root.addSubregion(addr, g);
    addr += 0x10000n * BigInt(groupSize) + 0x1000n;
  }
  return { root, count };
}

function time(fn) {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
}

const sizes = [1000, 10000, 100000];
const rows = [];
let prev = null;
for (const n of sizes) {
  const { root, count } = build(n);
  let best = Infinity;
  let ranges = 0;
  for (let k = 0; k < 3; k++) {
    const { ms, r } = time(() => renderFlatView(flatviewRoot(root)));
    best = Math.min(best, ms);
    ranges = r.ranges.length;
  }
  // the same render through the public path (AddressSpace creation + a commit)
  const as = new AddressSpace(root, 'bench');
  const viaCommit = time(() => transaction(() => { root.setSize(1n << 64n); root.setEnabled(false); root.setEnabled(true); })).ms;
  as.destroy();
  rows.push({ regions: count, flatRanges: ranges, renderMs: best.toFixed(1), commitMs: viaCommit.toFixed(1), growth: prev ? (best / prev).toFixed(2) + 'x' : '-' });
  prev = best;
}
console.table(rows);
const last = rows[rows.length - 1];
const ok = Number(last.renderMs) < 1000 && (rows.length < 2 || Number(last.growth.replace('x', '')) <= 15);
console.log(ok ? 'target met: 100k regions < 1 s, 10k->100k growth <= 15x' : 'TARGET MISSED');
