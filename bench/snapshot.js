'use strict';
// Reset benchmark: a 64 MiB real-mode guest dirtying 1 / 16 / 256 pages per
// run; each iteration is restore + run to HLT. node-kvm (machine.restore)
// against a C loop doing the same kernel work (bench/c/snapshot.c), per
// restore level. Prints resets per second and the ratio node-kvm / C.
//   node bench/snapshot.js            (build first: npx tsc -p tsconfig.build.json)
// Target: >= 0.8 x the C loop at 1 and 16 pages.
const { compileC, bestOf } = require('./lib/harness');
const { Machine } = require('../dist/machine');

const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const SCALE = Number(process.env.BENCH_SCALE || 1);
const ITERATIONS = { 1: 20000, 16: 10000, 256: 1000 };

/** mov cx,N; mov ax,0x1000; 1: mov es,ax; inc word [es:0]; add ax,0x100; loop 1b; hlt -- dirties N pages from 0x10000. */
function dirtyingGuest(pages) {
  return Uint8Array.of(0xb9, pages & 0xff, pages >> 8, 0xb8, 0x00, 0x10, 0x8e, 0xc0, 0x26, 0xff, 0x06, 0x00, 0x00, 0x05, 0x00, 0x01, 0xe2, 0xf4, 0xf4);
}

function jsLoop(pages, level, iterations) {
  const m = Machine.createSync({ memory: '64M', mode: 'real', serial: false, debugExit: false });
  try {
    m.load(dirtyingGuest(pages), { format: 'flat' });
    const snap = m.snapshot();
    let restored = 0;
    let t0 = 0n;
    for (let i = -100; i < iterations; i++) { // 100 warm-up resets
      if (i === 0) { t0 = process.hrtime.bigint(); restored = 0; }
      const r = m.runSync();
      if (r.reason !== 'hlt') throw new Error(`bench: guest stopped with ${r.reason}: ${r.message}`);
      restored += m.restore(snap, { cpu: level }).pages;
    }
    const ns = Number(process.hrtime.bigint() - t0) / iterations;
    if (restored !== pages * iterations) throw new Error(`bench: restored ${restored / iterations} pages per reset, expected ${pages}`);
    return { ns, msrs: msrIndices(snap) };
  } finally {
    m.close();
  }
}

/** The MSRs the snapshot keeps (so the C loop restores the same ones). */
function msrIndices(snap) {
  const b = snap.vcpus[0].msrs;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: dv.getUint32(0, true) }, (_, i) => `0x${dv.getUint32(8 + 16 * i, true).toString(16)}`).join(',');
}

async function main() {
  const c = compileC('snapshot');
  const msrs = jsLoop(1, 'full', 10).msrs;
  const cases = {};
  for (const pages of [1, 16, 256]) {
    const n = Math.max(10, Math.round(ITERATIONS[pages] * SCALE));
    const hex = Buffer.from(dirtyingGuest(pages)).toString('hex');
    const cRun = (variant) => {
      const out = c.run([variant, n, hex, msrs]);
      if (Math.abs(out.pagesPerReset - pages) > 1e-9) throw new Error(`C restored ${out.pagesPerReset} pages per reset, expected ${pages}`);
      return out.nsPerOp;
    };
    cases[`${pages}/registers`] = { c: () => cRun('registers'), js: () => jsLoop(pages, 'registers', n).ns };
    cases[`${pages}/full`] = { c: () => cRun('full'), js: () => jsLoop(pages, 'full', n).ns };
    cases[`${pages}/set_regs`] = { c: () => cRun('set_regs'), js: () => Infinity };
  }
  const best = await bestOf(ROUNDS, cases);
  c.cleanup();
  const perSec = (ns) => String(Math.round(1e9 / ns)).padStart(9);
  console.log(`snapshot bench: 64 MiB guest, restore + run to HLT, best of ${ROUNDS} rounds (MSRs: ${msrs})`);
  console.log('\nThe issue\'s loop: C does KVM_SET_REGS, KVM_RUN, KVM_GET_DIRTY_LOG and page copies;');
  console.log('node-kvm does machine.restore(snap, { cpu: \'registers\' }) + run (target >= 0.8 at 1 and 16 pages):');
  console.log('pages  C resets/s  node-kvm resets/s  ratio');
  let ok = true;
  for (const pages of [1, 16, 256]) {
    const cNs = best[`${pages}/set_regs`].c;
    const js = best[`${pages}/registers`].js;
    const ratio = cNs / js; // throughput: node-kvm resets/s over C resets/s
    const checked = pages <= 16;
    if (checked) ok &&= ratio >= 0.8;
    console.log(`${String(pages).padStart(5)}  ${perSec(cNs)}  ${perSec(js).padStart(17)}  ${ratio.toFixed(3)}${checked ? (ratio >= 0.8 ? ' ok' : ' MISSED') : ''}`);
  }
  console.log('\nLevel for level: C doing exactly the kernel work of each restore level');
  console.log('(registers: sync-regs staging, no ioctl; full: also XSAVE, XCRS, SREGS, MSRS, MP_STATE, EVENTS, DEBUGREGS):');
  console.log('pages  cpu state   C resets/s  node-kvm resets/s  ratio');
  for (const pages of [1, 16, 256]) {
    for (const level of ['registers', 'full']) {
      const { c: cNs, js } = best[`${pages}/${level}`];
      console.log(`${String(pages).padStart(5)}  ${level.padEnd(10)} ${perSec(cNs).padStart(11)}  ${perSec(js).padStart(17)}  ${(cNs / js).toFixed(3)}`);
    }
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
