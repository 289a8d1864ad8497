// The SMP stress test: N vCPUs, each on its own thread, hammer one MMIO
// counter and one port device while the JavaScript thread (in the port
// device's callback, with the other vCPUs inside KVM_RUN) toggles an alias
// over the RAM they read and execute from, 10,000 times. Every toggle
// deletes and re-creates the slot holding their code (split <-> merge), so
// each one must hold every running vCPU out of KVM_RUN. Every access is
// counted exactly once, no vCPU ever reads a wrong value or hits a missing
// page, nothing deadlocks; close() in the middle of such a run releases
// every thread, fd and mapping. A toggle costs milliseconds here (the host's
// KVM_SET_USER_MEMORY_REGION waits for an SRCU grace period), so `npm test`
// does 500; the 10,000: SMP_TOGGLES=10000 npx jest test/smp/stress.test.ts
import * as fs from 'fs';
import { Machine } from '../../lib/machine';
import { MemoryRegion, transaction } from '../../lib/memory';
import { threadOf } from '../../lib/kvm/vcpu-thread';
import { assemble } from '../helpers/assemble';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

const TOGGLES = Number(process.env.SMP_TOGGLES ?? 500);
const MAGIC = Uint8Array.of(0xaa, 0x55, 0xe7, 0x7e); // 0x7ee755aa, what test/guests/smp-hammer.S checks
const threadCount = () => fs.readdirSync('/proc/self/task').length;

/** A tiny machine of `cpus` vCPUs running smp-hammer.S `iterations` times each (`spin` rounds between), with its two devices and the alias. */
function hammer(cpus: number, iterations: number, spin: number, onPortWrite: (m: Machine) => void = () => {}) {
  const m = Machine.createSync({ cpus, serial: false });
  const port = new Array<number>(cpus).fill(0);
  const mmio = new Array<number>(cpus).fill(0);
  let bad: string | null = null;
  let badVcpu = -1;
  const resumedAfterHlt: number[] = [];
  const portDev = MemoryRegion.io('hammer-port', 8, {
    write: (offset, value) => {
      // smp-hammer.S read a wrong value: its vCPU (0x601), then the dword (0x604)
      if (offset === 1n) badVcpu = Number(value);
      else if (offset === 4n) bad = `vCPU ${badVcpu} read 0x${value.toString(16)} at 0xe0000`;
      else if (offset === 2n) resumedAfterHlt.push(Number(value));
      else port[Number(value)]++;
      onPortWrite(m);
    },
    read: () => 0,
  });
  const counter = MemoryRegion.io('hammer-counter', 0x1000, { write: (_o, value) => { mmio[Number(value)]++; }, read: () => 0 });
  // The alias shows a copy of the magic (RAM at 2 MiB) over 0xe0000: on or off, the guest reads the same bytes.
  const alias = MemoryRegion.alias('hammer-alias', m.memory.ram, 0x200000, 0x10000);
  transaction(() => {
    m.memory.ioRoot.addSubregion(0x600n, portDev);
    m.memory.root.addSubregion(0xd0000000n, counter);
    m.memory.root.addSubregionOverlap(0xe0000n, alias, 1);
  });
  m.load(assemble('smp-hammer.S'));
  const n = new DataView(new ArrayBuffer(16));
  n.setBigUint64(0, BigInt(iterations), true);
  n.setBigUint64(8, BigInt(spin), true);
  m.writeGuest(0x90000, new Uint8Array(n.buffer));
  m.writeGuest(0x200000, MAGIC);
  alias.setEnabled(false); // (to write the RAM under it)
  m.writeGuest(0xe0000, MAGIC);
  alias.setEnabled(true);
  const close = () => {
    m.close();
    for (const r of [portDev, counter, alias]) r.close();
  };
  return { m, port, mmio, alias, bad: () => bad, resumedAfterHlt, close };
}

describeKvm('SMP: several vCPUs on their threads, one device lock, atomic memory updates', () => {
  jest.setTimeout(120_000);

  test(`2 vCPUs hammer an MMIO counter and a port device through ${TOGGLES} alias toggles over the RAM they run from: exact counts`, async () => {
    let toggles = 0;
    let toggleMs = 0;
    const h = hammer(2, TOGGLES / 2, 1000, () => { // (long enough spins that a toggle finds the other vCPU inside KVM_RUN)
      // The JavaScript thread re-maps while the other vCPU is inside KVM_RUN.
      const t = performance.now();
      transaction(() => h.alias.setEnabled(!h.alias.enabled));
      toggleMs += performance.now() - t;
      toggles++;
    });
    try {
      const holdsBefore = h.m.vcpus.map((v) => threadOf(v)!.stats().holds); // (the set-up's commits held the idle threads too)
      const t0 = performance.now();
      const r = await h.m.run({ timeoutMs: 100_000 });
      const ms = performance.now() - t0;
      const stats = h.m.vcpus.map((v, i) => { const s = threadOf(v)!.stats(); return { ...s, holds: s.holds - holdsBefore[i] }; });
      expect({ reason: r.reason, bad: h.bad(), resumedAfterHlt: h.resumedAfterHlt }).toEqual({ reason: 'hlt', bad: null, resumedAfterHlt: [] });
      expect(r.message).toBe('every vCPU executed hlt');
      expect(toggles).toBe(TOGGLES);
      expect(h.port).toEqual([TOGGLES / 2, TOGGLES / 2]);
      expect(h.mmio).toEqual([TOGGLES / 2, TOGGLES / 2]);
      expect(r.exits).toBe(2 * TOGGLES + 2); // every port and MMIO exit once, and each vCPU's hlt
      // The toggles really held the other vCPU out of KVM_RUN (a hold only finds it idle when its exit is queued).
      expect(stats.every((s) => s.holds === TOGGLES)).toBe(true);
      expect(stats.reduce((a, s) => a + s.holdExits, 0)).toBeGreaterThan(0);
      console.log(`SMP stress: ${r.exits} exits and ${TOGGLES} toggles in ${ms.toFixed(0)} ms (the toggles' commits ${toggleMs.toFixed(0)} ms); ` +
        `hold exits ${stats.map((s) => s.holdExits).join(', ')}`);
    } finally {
      h.close();
    }
  });

  test('3 vCPUs on 2 host cores: every access counted once, run() ends when all have halted (no IRQ chip)', async () => {
    const h = hammer(3, 2000, 0);
    try {
      const r = await h.m.run({ timeoutMs: 100_000 });
      expect({ reason: r.reason, bad: h.bad(), resumedAfterHlt: h.resumedAfterHlt, port: h.port, mmio: h.mmio })
        .toEqual({ reason: 'hlt', bad: null, resumedAfterHlt: [], port: [2000, 2000, 2000], mmio: [2000, 2000, 2000] });
      // Every vCPU is out of KVM_RUN after run(): registers read on each (RIP after its hlt).
      expect(h.m.vcpus.map((v) => v.getRegs().rip)).toEqual([r.rip, r.rip, r.rip]);
    } finally {
      h.close();
    }
  });

  test.each(['a timer between slices', 'a device callback'])('close() from %s in the middle of a run frees every thread, fd and mapping', async (from) => {
    const fds = openFdCount();
    const maps = mappingCount();
    const threads = threadCount();
    let writes = 0;
    const h = hammer(2, 1_000_000, 0, (m) => {
      if (from === 'a device callback' && ++writes === 3000) m.close();
    });
    let closedByTimer = false;
    const timer = from === 'a timer between slices' ? setTimeout(() => { closedByTimer = true; h.m.close(); }, 300) : undefined;
    try {
      expect(threadCount()).toBe(threads + 2); // one per vCPU, from the machine's creation (idle until a run), as QEMU's
      const r = await h.m.run({ timeoutMs: 60_000 });
      expect(r.reason).toBe('stopped');
      expect(r.message).toBe('the vCPU was closed during the run');
      if (from === 'a timer between slices') expect(closedByTimer).toBe(true);
      else expect(writes).toBe(3000);
    } finally {
      clearTimeout(timer);
      h.close();
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
    expect(threadCount()).toBe(threads);
  });
});
