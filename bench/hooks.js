'use strict';
// Memory-hook benchmark (issue 15): what a hook costs the guest.
//   1. A guest loop that increments a RAM word runs with no hook and with a
//      hook on another page (ratio: the rest of RAM keeps its slots, and its
//      speed, while a page is hooked).
//   2. ns per hooked access (a guest store to a hooked RAM byte: the exit, the
//      access performed on the RAM through the model, the old value, the RIP
//      and the callback) against ns per MMIO exit to a TypeScript device
//      (the same store loop, the same address, a device region there instead).
//   node bench/hooks.js            (build first: npm run build:ts)
// Targets: unhooked loop >= 0.95 x its speed without hooks; hooked access <= 2 x an MMIO exit.
const { bestOf } = require('./lib/harness');
const { Machine } = require('../dist/machine');
const { MemoryRegion } = require('../dist/memory');

const ITER = Number(process.env.BENCH_ITER || 200000);
const N = Number(process.env.BENCH_EXITS || 50000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
// the hooked page: 0x800000 leaves the loop's code and data in one slot; BENCH_HOOK=0x5000 puts it between them
const HOOKED = Number(process.env.BENCH_HOOK || 0x800000);

// Real mode at 0x7c00: mov ecx, ITER; l: inc word [0x1000]; dec ecx; jnz l; hlt
function ramLoop(iter) {
  const b = Uint8Array.of(0x66, 0xb9, 0, 0, 0, 0, 0xff, 0x06, 0x00, 0x10, 0x66, 0x49, 0x75, 0xf8, 0xf4);
  new DataView(b.buffer).setUint32(2, iter, true);
  return b;
}
// mov ax, 0xd000; mov ds, ax; l: mov [0], al; jmp l   (as bench/exits.js)
const STORE_LOOP = Uint8Array.of(0xb8, 0x00, 0xd0, 0x8e, 0xd8, 0xa2, 0x00, 0x00, 0xeb, 0xfb);

async function machine() {
  return Machine.create({ memory: '16M', mode: 'real', serial: { output: null }, debugExit: false });
}

/** ns per loop iteration of the RAM loop, with or without a hook on the page at HOOKED. */
async function ramLoopNs(hooked) {
  const m = await machine();
  try {
    if (hooked) m.hooks.memory({ start: HOOKED, end: HOOKED + 0xfff }, () => { throw new Error('the loop touches no hooked byte'); });
    m.load(ramLoop(1000));
    await m.run(); // warm up
    m.load(ramLoop(ITER));
    const t0 = process.hrtime.bigint();
    const r = await m.run();
    const t1 = process.hrtime.bigint();
    if (r.reason !== 'hlt') throw new Error(`ram loop: ${r.reason} ${r.message}`);
    return Number(t1 - t0) / ITER;
  } finally {
    m.close();
  }
}

/** ns per guest store, to a hooked RAM byte or to a device region at the same address. */
async function storeNs(kind) {
  const m = await machine();
  let count = 0;
  const dev = kind === 'mmio' ? MemoryRegion.io('bench-mmio', 0x1000, { write: () => { count++; }, read: () => 0 }) : null;
  try {
    if (dev) m.memory.root.addSubregionOverlap(0xd0000n, dev, 1);
    else m.hooks.memory({ start: 0xd0000, end: 0xd0000, access: 'write' }, () => { count++; });
    m.load(STORE_LOOP);
    await m.run({ maxExits: 1000 }); // warm up
    count = 0;
    const t0 = process.hrtime.bigint();
    const r = await m.run({ maxExits: N });
    const t1 = process.hrtime.bigint();
    if (r.reason !== 'maxExits' || count !== N) throw new Error(`store loop ${kind}: ${r.reason}, ${count} of ${N} seen`);
    return Number(t1 - t0) / N;
  } finally {
    m.close();
    dev?.close();
  }
}

async function main() {
  // "c" is the baseline of each pair (bestOf's naming)
  const best = await bestOf(ROUNDS, {
    ram: { c: () => ramLoopNs(false), js: () => ramLoopNs(true) },
    store: { c: () => storeNs('mmio'), js: () => storeNs('hooked') },
  });
  console.log(`hooks bench: best of ${ROUNDS} rounds; ${ITER} loop iterations, ${N} stores per round`);
  const speed = best.ram.c / best.ram.js;
  const cost = best.store.js / best.store.c;
  const ok1 = speed >= 0.95;
  const ok2 = cost <= 2;
  console.log(`RAM loop, unhooked page      no hook ${best.ram.c.toFixed(1).padStart(8)} ns/iter   hook elsewhere ${best.ram.js.toFixed(1).padStart(8)} ns/iter   speed ratio ${speed.toFixed(3)} (target >= 0.95) ${ok1 ? 'ok' : 'MISSED'}`);
  console.log(`store, exit per access       MMIO exit ${(best.store.c / 1000).toFixed(2).padStart(6)} us       hooked RAM ${(best.store.js / 1000).toFixed(2).padStart(8)} us       cost ratio ${cost.toFixed(3)} (target <= 2) ${ok2 ? 'ok' : 'MISSED'}`);
  process.exitCode = ok1 && ok2 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
