'use strict';
// Exit-path benchmark: node-kvm (Machine + run loop + a TypeScript device)
// against a C program doing the same ioctls on the same guest loops
// (bench/c/exits.c, compiled here with gcc). Prints ns per exit and ratios.
//   node bench/exits.js            (build first: npx tsc -p tsconfig.build.json)
// Targets: port I/O <= 1.10 x C, MMIO <= 1.15 x C, create+16 MiB+first exit <= 1.5 x C.
const { compileC, bestOf } = require('./lib/harness');
const { Machine } = require('../dist/machine');
const { MemoryRegion } = require('../dist/memory');

const N = Number(process.env.BENCH_EXITS || 100000);
const CREATES = Number(process.env.BENCH_CREATES || 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);

// The same guests as bench/c/exits.c (real mode at 0x7c00).
const PIO_LOOP = Uint8Array.of(0xba, 0x00, 0x06, 0xee, 0xeb, 0xfd);
const MMIO_LOOP = Uint8Array.of(0xb8, 0x00, 0xd0, 0x8e, 0xd8, 0xa2, 0x00, 0x00, 0xeb, 0xfb);

async function exitLoop(kind, n) {
  const machine = await Machine.create({ memory: '16M', mode: 'real', serial: { output: null }, debugExit: false });
  let count = 0;
  // The device: counts writes, like the C program's switch.
  const ops = { write: () => { count++; }, read: () => 0 };
  const dev = kind === 'pio' ? MemoryRegion.io('bench-port', 1, ops) : MemoryRegion.io('bench-mmio', 0x10000, ops);
  if (kind === 'pio') machine.memory.ioRoot.addSubregion(0x600n, dev);
  else machine.memory.root.addSubregionOverlap(0xd0000n, dev, 1); // splits RAM into two KVM slots, as in C
  machine.load(kind === 'pio' ? PIO_LOOP : MMIO_LOOP);
  try {
    await machine.run({ maxExits: 1000 }); // warm up (JIT, page faults)
    count = 0;
    const t0 = process.hrtime.bigint();
    const r = process.env.BENCH_SYNC ? machine.runSync({ maxExits: n }) : await machine.run({ maxExits: n });
    const t1 = process.hrtime.bigint();
    if (r.reason !== 'maxExits' || count !== n) throw new Error(`bench ${kind}: ${r.reason}, device saw ${count} of ${n}`);
    return Number(t1 - t0) / n;
  } finally {
    machine.close();
    dev.close();
  }
}

async function createLoop(n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const machine = await Machine.create({ memory: '16M', mode: 'real', serial: { output: null } });
    machine.load(PIO_LOOP);
    const r = await machine.run({ maxExits: 1 });
    if (r.reason !== 'maxExits') throw new Error(`bench create: ${r.reason}`);
    machine.close();
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

async function main() {
  const c = compileC('exits');
  await createLoop(5); // warm up
  // C and JS alternate so both see the same host load.
  const best = await bestOf(ROUNDS, {
    pio: { c: () => c.run(['pio', N]).nsPerOp, js: () => exitLoop('pio', N) },
    mmio: { c: () => c.run(['mmio', N]).nsPerOp, js: () => exitLoop('mmio', N) },
    create: { c: () => c.run(['create', CREATES]).nsPerOp, js: () => createLoop(CREATES) },
  });
  c.cleanup();
  const targets = { pio: 1.10, mmio: 1.15, create: 1.5 };
  const label = { pio: 'port-I/O exit (TS device)', mmio: 'MMIO exit (TS device)', create: 'create + 16 MiB map + first exit' };
  console.log(`exits bench: best of ${ROUNDS} rounds, ${N} exits / ${CREATES} creates per round`);
  let ok = true;
  for (const k of ['pio', 'mmio', 'create']) {
    const { c, js } = best[k];
    const ratio = js / c;
    const pass = ratio <= targets[k];
    ok &&= pass;
    const unit = k === 'create' ? 'us' : 'us/exit';
    console.log(`${label[k].padEnd(34)} C ${(c / 1000).toFixed(2).padStart(8)} ${unit}   node-kvm ${(js / 1000).toFixed(2).padStart(8)} ${unit}   ratio ${ratio.toFixed(3)} (target <= ${targets[k]}) ${pass ? 'ok' : 'MISSED'}`);
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
