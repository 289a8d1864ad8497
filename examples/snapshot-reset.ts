// Fast reset: run the same guest again and again from one snapshot.
// A device written in TypeScript (a counter at 0xd0000000) joins snapshots by
// implementing two methods, saveState() and loadState(). The guest adds the
// counter to a cell of RAM, increments both, and exits with the sum. Restored
// before every run, it must see the snapshot's values each time: 2 + 40.
// Run: node scripts/run-example.js examples/snapshot-reset.ts
import { Machine, MemoryRegion, type DeviceStateValue, type SnapshotDevice } from '../lib';

export class Counter implements SnapshotDevice {
  readonly snapshotName = 'counter';
  value = 2;
  readonly region = MemoryRegion.io('counter', 4, {
    read: () => this.value,
    write: (_offset, v) => { this.value = Number(v); },
    valid: { minAccessSize: 4, maxAccessSize: 4 },
  });

  saveState(): DeviceStateValue {
    return { value: this.value };
  }

  loadState(state: DeviceStateValue): void {
    const value = (state as { value?: unknown } | null)?.value;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError('counter state: value must be an integer');
    this.value = value;
  }
}

// mov $0xd0000000,%ebx; mov (%rbx),%eax; add 0x200000,%eax; incl (%rbx);
// incl 0x200000; mov $0x501,%dx; out %al,(%dx); hlt
export const GUEST = Uint8Array.from([
  0xbb, 0x00, 0x00, 0x00, 0xd0, 0x8b, 0x03, 0x03, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0xff, 0x03,
  0xff, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x66, 0xba, 0x01, 0x05, 0xee, 0xf4,
]);

export async function main(runs = 1000): Promise<{ codes: Set<number>; resetsPerSecond: number }> {
  const machine = await Machine.create({ memory: '16M', mode: 'long', serial: false });
  const counter = new Counter();
  try {
    machine.memory.root.addSubregion(0xd0000000n, counter.region);
    machine.addDevice(counter);
    machine.load(GUEST);
    machine.writeGuest(0x200000n, Uint8Array.of(40));
    const snap = machine.snapshot();
    const codes = new Set<number>();
    const start = performance.now();
    for (let i = 0; i < runs; i++) {
      const r = machine.runSync({ timeoutMs: 1000 });
      codes.add(r.exitCode ?? -1);
      machine.restore(snap); // registers, RAM pages the run dirtied, the counter
    }
    const resetsPerSecond = Math.round(runs / ((performance.now() - start) / 1000));
    console.log(`${runs} runs from one snapshot, exit codes seen: ${[...codes].join(', ')} (${resetsPerSecond} runs + resets per second)`);
    return { codes, resetsPerSecond };
  } finally {
    machine.close();
    counter.region.close();
  }
}

if (require.main === module) main().then(({ codes }) => process.exit(codes.size === 1 && codes.has((42 << 1) | 1) ? 0 : 1));
