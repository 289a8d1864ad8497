// Exits that race with the stop of every vCPU at the end of a slice or of the
// run: an exit a vCPU takes while it is being kicked is the guest's, handled
// as the same exit would be in the middle of a slice. (A hlt that came in as
// a slice ended used to be taken for the kick's exit, and its vCPU was
// resumed after the hlt at the next slice: that is how the SMP stress test's
// guest once ran on past its final hlt into its error path.)
import { Machine } from '../../lib/machine';
import { MemoryRegion } from '../../lib/memory';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';

const SLICE_MS = 5;
const ACTION = { hlt: 1, tripleFault: 2 } as const;

/**
 * A tiny machine of 2 vCPUs running smp-raced-exit.S: vCPU 0's port write
 * makes vCPU 1 do `action`, then holds the JavaScript thread for `holdMs`
 * (after calling `during`), so that vCPU 1's exit is queued when the slice
 * or the run ends.
 */
function racer(action: number, holdMs: number, during: (m: Machine) => void = () => {}) {
  const m = Machine.createSync({ cpus: 2, serial: false });
  const resumedAfterHlt: number[] = [];
  const port = MemoryRegion.io('race-port', 2, {
    write: (offset, value) => {
      if (offset === 1n) {
        resumedAfterHlt.push(Number(value));
        return;
      }
      m.writeGuest(0x90000, Uint8Array.of(action)); // vCPU 1 acts now...
      during(m);
      const until = performance.now() + holdMs; // ...while this access is still handled
      while (performance.now() < until);
    },
    read: () => 0,
  });
  m.memory.ioRoot.addSubregion(0x700n, port);
  m.load(assemble('smp-raced-exit.S'));
  return { m, resumedAfterHlt, close: () => { m.close(); port.close(); } };
}

describeKvm('SMP: exits that race with the stop of every vCPU', () => {
  test('a hlt whose exit is queued as the slice ends keeps its vCPU halted; the run ends when both have', async () => {
    for (let round = 0; round < 3; round++) {
      const g = racer(ACTION.hlt, 6 * SLICE_MS);
      try {
        const r = await g.m.run({ sliceMs: SLICE_MS, timeoutMs: 10_000 });
        expect({ round, reason: r.reason, message: r.message, resumedAfterHlt: g.resumedAfterHlt }).toEqual({
          round, reason: 'hlt', message: 'every vCPU executed hlt', resumedAfterHlt: [],
        });
      } finally {
        g.close();
      }
    }
  });

  test('a triple fault queued as the run times out is the run\'s result, not the timeout', async () => {
    const g = racer(ACTION.tripleFault, 300);
    try {
      const r = await g.m.run({ timeoutMs: 100 });
      expect({ reason: r.reason, cpu: r.cpu }).toEqual({ reason: 'shutdown', cpu: 1 });
    } finally {
      g.close();
    }
  });

  test('a triple fault queued as a stop() ends the run is the next run\'s result, before any vCPU runs again', async () => {
    const g = racer(ACTION.tripleFault, 30, (m) => m.stop('stopped by the device'));
    try {
      const first = await g.m.run({ timeoutMs: 10_000 });
      expect({ reason: first.reason, message: first.message, cpu: first.cpu }).toEqual({ reason: 'stopped', message: 'stopped by the device', cpu: 0 });
      const next = await g.m.run({ timeoutMs: 10_000 });
      expect({ reason: next.reason, cpu: next.cpu, exits: next.exits }).toEqual({ reason: 'shutdown', cpu: 1, exits: 0 });
    } finally {
      g.close();
    }
  });

  test('loading a program again drops such a result: the next run starts the guest over', async () => {
    const g = racer(ACTION.tripleFault, 30, (m) => m.stop('stopped by the device'));
    try {
      expect((await g.m.run({ timeoutMs: 10_000 })).reason).toBe('stopped');
      g.m.load(assemble('smp-raced-exit.S'));
      g.m.writeGuest(0x90000, Uint8Array.of(0));
      const r = await g.m.run({ timeoutMs: 10_000 });
      // vCPU 0 wrote to the port again (and the device stopped the run again)
      expect({ reason: r.reason, message: r.message, cpu: r.cpu }).toEqual({ reason: 'stopped', message: 'stopped by the device', cpu: 0 });
      expect(r.exits).toBeGreaterThan(0);
    } finally {
      g.close();
    }
  });
});
