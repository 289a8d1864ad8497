/**
 * Adding and removing many children must stay near-linear whatever the
 * order (issue 10 item 12: a splice into the front of an array made 100,000
 * equal-priority children take 5 s where 10,000 took 15 ms, a growth of
 * about 300x).
 *
 * Time, made hard to flake: a child process collects garbage before every
 * round, measures process CPU time (time the host gives to other processes
 * does not count) and keeps the best of three rounds.  Adding and
 * rendering: the growth from 10,000 to 100,000 children below 40x (the code
 * as it is measures 2-7x in CPU time), and 100,000 in under 1 s of CPU (the
 * issue's target; 0.13-0.25 s here).  An O(n) scan of the list per link,
 * tried as a deliberate regression, measured 22-46x and 1.7-2.0 s: the
 * first bound alone can miss a quadratic term whose 10,000-child cost is
 * still small, the second cannot.  Removing: 100,000 in under 0.3 s of
 * CPU (18-51 ms here; the same O(n) scan per unlink: 0.67-0.77 s); its
 * growth is not bounded, because removing 10,000 takes a millisecond or
 * two and the ratio swings from 2x to 30x with the host.
 */
import { runChild } from '../helpers/child';

const SCRIPT = `
const { MemoryRegion, AddressSpace, transaction } = require('./lib/memory');
const orders = {
  ascending: (n) => Array.from({ length: n }, (_, i) => i),
  descending: (n) => Array.from({ length: n }, (_, i) => n - 1 - i),
  random: (n) => {
    const a = Array.from({ length: n }, (_, i) => i);
    let s = 0x9e3779b9;
    for (let i = n - 1; i > 0; i--) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      const j = (s >>> 0) % (i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  },
};
const cpuMs = (c0) => { const d = process.cpuUsage(c0); return (d.user + d.system) / 1e3; };
function round(n, order) {
  global.gc();
  const root = MemoryRegion.container('system', 1n << 64n);
  const as = new AddressSpace(root, 'growth');
  const slots = orders[order](n);
  const kids = slots.map((slot) => ({ mr: MemoryRegion.io('dev', 0x1000n), addr: BigInt(slot) * 0x2000n }));
  let c0 = process.cpuUsage();
  transaction(() => { for (const k of kids) root.addSubregion(k.addr, k.mr); });
  const add = cpuMs(c0);
  if (as.currentView.ranges.length !== n) throw new Error('ranges: ' + as.currentView.ranges.length);
  // removed in another order than added
  kids.reverse();
  c0 = process.cpuUsage();
  transaction(() => { for (const k of kids) root.removeSubregion(k.mr); });
  const remove = cpuMs(c0);
  if (as.currentView.ranges.length !== 0) throw new Error('left: ' + as.currentView.ranges.length);
  as.destroy();
  return { add, remove };
}
const out = {};
for (const order of Object.keys(orders)) {
  round(10000, order);
  const best = (n) => {
    const b = { add: Infinity, remove: Infinity };
    for (let k = 0; k < 3; k++) { const r = round(n, order); b.add = Math.min(b.add, r.add); b.remove = Math.min(b.remove, r.remove); }
    return b;
  };
  const small = best(10000);
  const large = best(100000);
  out[order] = { add: large.add / small.add, addMs: large.add, removeMs: large.remove };
}
console.log(JSON.stringify(out));
`;

test('10x the children (10,000 -> 100,000, ascending, descending, random) costs less than 40x the CPU time to add and render; 100,000 are added and rendered in < 1 s, and removed in < 0.3 s', () => {
  const r = runChild(SCRIPT, { args: ['--expose-gc'], timeoutMs: 120000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const got = JSON.parse(r.stdout) as Record<string, { add: number; addMs: number; removeMs: number }>;
  expect(Object.keys(got)).toEqual(['ascending', 'descending', 'random']);
  for (const [order, g] of Object.entries(got)) {
    // the measured numbers are part of the compared object, so a failure shows them
    const ok = g.add < 40 && g.addMs < 1000 && g.removeMs < 300;
    expect({ order, measured: g, ok }).toEqual({ order, measured: g, ok: true });
  }
}, 120000);
