'use strict';
// SMP benchmark: the exit latency of a device access on a vCPU thread
// (node-kvm's SMP run loop: exit -> VcpuExitQueue -> the JavaScript thread's
// dispatch -> resume) against C with pthreads doing the same ioctls
// (bench/c/smp.c: the exit handled in the vCPU thread, and handed to the main
// thread and back), and the throughput of 2 vCPUs spinning in ring 3 against 1.
//   node bench/smp.js            (build first: npx tsc -p tsconfig.build.json)
// Targets: device-access exit on a vCPU thread <= 1.3 x C (in-thread handling); 2 vCPUs >= 1.8 x 1 vCPU.
const { compileC, bestOf } = require('./lib/harness');
require('../test/helpers/register-ts');
const { assemble } = require('../test/helpers/assemble');
const { Machine } = require('../dist/machine');
const { MemoryRegion } = require('../dist/memory');

const N = Number(process.env.BENCH_EXITS || 50000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const SPIN_MS = Number(process.env.BENCH_SPIN_MS || 1000);

// Real mode at 0x7c00, on both vCPUs: vCPU 0 does bench/c/smp.c's port loop, vCPU 1 halts (no IRQ chip: for good).
//   mov $1,%eax; cpuid; shr $24,%ebx; test %ebx,%ebx; jnz 1f; mov $0x600,%dx; 2: out %al,%dx; jmp 2b; 1: hlt; jmp 1b
const PIO_ON_CPU0 = Uint8Array.of(0x66, 0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x66, 0xc1, 0xeb, 0x18, 0x66, 0x85, 0xdb, 0x75, 0x06,
  0xba, 0x00, 0x06, 0xee, 0xeb, 0xfd, 0xf4, 0xeb, 0xfd);

async function threadExits(n) {
  const machine = await Machine.create({ cpus: 2, memory: '16M', mode: 'real', serial: false, debugExit: false });
  let count = 0;
  const dev = MemoryRegion.io('bench-port', 1, { write: () => { count++; }, read: () => 0 });
  machine.memory.ioRoot.addSubregion(0x600n, dev);
  machine.load(PIO_ON_CPU0);
  try {
    await machine.run({ maxExits: 1000 }); // warm up (JIT, the threads, vCPU 1's hlt)
    count = 0;
    const t0 = process.hrtime.bigint();
    const r = await machine.run({ maxExits: n });
    const t1 = process.hrtime.bigint();
    // (vCPU 1 resumes after its hlt and halts again: one exit of the n)
    if (r.reason !== 'maxExits' || count < n - 1) throw new Error(`bench threaded: ${r.reason}, device saw ${count} of ${n}`);
    return Number(t1 - t0) / r.exits;
  } finally {
    machine.close();
    dev.close();
  }
}

/** Ring-3 loop iterations per second of `cpus` vCPUs together (test/guests/ring3-spin.S). */
async function spin(cpus) {
  const machine = await Machine.create({ cpus, memory: '16M', serial: false });
  try {
    machine.load(assemble('ring3-spin.S'));
    const r = await machine.run({ timeoutMs: SPIN_MS });
    if (r.reason !== 'timeout') throw new Error(`bench spin: ${r.reason} ${r.message}`);
    const counts = new DataView(machine.readGuest(0x91000, 64 * cpus).buffer);
    let total = 0;
    for (let i = 0; i < cpus; i++) {
      const c = Number(counts.getBigUint64(64 * i, true));
      if (c === 0) throw new Error(`bench spin: vCPU ${i} never counted`);
      total += c;
    }
    return total / (r.elapsedMs / 1000);
  } finally {
    machine.close();
  }
}

async function main() {
  const c = compileC('smp', ['-pthread']);
  const best = await bestOf(ROUNDS, {
    exit: { c: () => c.run(['inthread', N]).nsPerOp, js: () => threadExits(N) },
    handoff: { c: () => c.run(['handoff', N]).nsPerOp, js: async () => Infinity },
  });
  c.cleanup();
  let one = 0;
  let two = 0;
  for (let r = 0; r < Math.min(ROUNDS, 3); r++) {
    one = Math.max(one, await spin(1));
    two = Math.max(two, await spin(2));
  }
  const exitRatio = best.exit.js / best.exit.c;
  const spinRatio = two / one;
  console.log(`smp bench: best of ${ROUNDS} rounds, ${N} exits per round; ring-3 spin ${SPIN_MS} ms`);
  console.log(`device-access exit on a vCPU thread   C in-thread ${(best.exit.c / 1000).toFixed(2).padStart(7)} us   C handoff ${(best.handoff.c / 1000).toFixed(2).padStart(7)} us` +
    `   node-kvm ${(best.exit.js / 1000).toFixed(2).padStart(7)} us   ratio ${exitRatio.toFixed(3)} x in-thread (target <= 1.3) ${exitRatio <= 1.3 ? 'ok' : 'MISSED'},` +
    ` ${(best.exit.js / best.handoff.c).toFixed(3)} x handoff`);
  console.log(`ring-3 spin throughput                1 vCPU ${(one / 1e6).toFixed(1)} M/s   2 vCPUs ${(two / 1e6).toFixed(1)} M/s   ratio ${spinRatio.toFixed(2)} (target >= 1.8) ${spinRatio >= 1.8 ? 'ok' : 'MISSED'}`);
  process.exitCode = exitRatio <= 1.3 && spinRatio >= 1.8 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
