// A machine snapshot: vCPU state, device state and a copy of every RAM block,
// held outside the guest's mappings, plus the layout it belongs to. Snapshots
// are taken and restored by the Machine (machine.snapshot(), restore()), and
// saved and read with the file format of snapshot-file.ts.
import type { DeviceStateValue } from './device-state';
import { readSnapshotFile, writeSnapshotFile } from './snapshot-file';
import type { VcpuState } from './vcpu-state';
import { hex } from '../util/hex';

export { SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC } from './snapshot-file';
export { SnapshotError, type SnapshotErrorKind } from './snapshot-error';

/** What a snapshot must match to be restored: the machine's shape and memory map. */
export interface SnapshotLayout {
  /** The machine type (board) the snapshot is of. */
  machine: string;
  /** The board's parameters (today's boards all have these five). */
  memory: bigint;
  mode: string;
  irqchip: boolean;
  serialPort: number | null;
  debugExitPort: number | null;
  ramBlocks: { name: string; size: bigint }[];
  devices: string[];
  /** `info mtree -f` of the machine's address spaces. */
  memoryMap: string;
}

const layoutKeys = new WeakMap<SnapshotLayout, string>();

/** One string that is equal exactly when two layouts are (computed once per layout object). */
function layoutKey(l: SnapshotLayout): string {
  let k = layoutKeys.get(l);
  if (k === undefined) {
    k = JSON.stringify([l.machine, l.memory.toString(16), l.mode, l.irqchip, l.serialPort, l.debugExitPort,
      l.ramBlocks.map((b) => [b.name, b.size.toString(16)]), l.devices, l.memoryMap]);
    layoutKeys.set(l, k);
  }
  return k;
}

/** A readable account of how two layouts differ, or null when they match. */
export function layoutDifference(want: SnapshotLayout, have: SnapshotLayout): string | null {
  // The restore hot path: the same layout object (a snapshot of this machine,
  // topology unchanged), or one whose key matches.
  if (want === have || layoutKey(want) === layoutKey(have)) return null;
  const scalar: (keyof SnapshotLayout)[] = ['machine', 'memory', 'mode', 'irqchip', 'serialPort', 'debugExitPort'];
  for (const k of scalar) {
    if (want[k] !== have[k]) return `${k} is ${String(have[k])} here but ${String(want[k])} in the snapshot`;
  }
  const blocks = (l: SnapshotLayout) => l.ramBlocks.map((b) => `${b.name}:${hex(b.size)}`).join(', ');
  if (blocks(want) !== blocks(have)) return `RAM blocks are [${blocks(have)}] here but [${blocks(want)}] in the snapshot`;
  if (want.devices.join(',') !== have.devices.join(',')) {
    return `devices are [${have.devices.join(', ')}] here but [${want.devices.join(', ')}] in the snapshot`;
  }
  if (want.memoryMap !== have.memoryMap) {
    const a = want.memoryMap.split('\n');
    const b = have.memoryMap.split('\n');
    const i = a.findIndex((line, k) => line !== b[k]);
    const at = i < 0 ? a.length : i;
    return `the memory map differs: the snapshot has "${a[at] ?? '(end)'}" where this machine has "${b[at] ?? '(end)'}"`;
  }
  return null;
}

export class Snapshot {
  /** @internal use machine.snapshot() */
  constructor(
    readonly layout: SnapshotLayout,
    /** @internal */ readonly vcpus: readonly VcpuState[],
    /** @internal */ readonly devices: ReadonlyMap<string, DeviceStateValue>,
    /** @internal RAM block name → contents */ readonly ram: ReadonlyMap<string, Uint8Array>,
  ) {}

  /** Bytes of guest RAM the snapshot holds. */
  get ramBytes(): number {
    let n = 0;
    for (const b of this.ram.values()) n += b.length;
    return n;
  }

  /**
   * Writes the snapshot to `file` (atomically: a temporary file, then rename).
   * Pages of zeros are not stored; the whole file is checksummed.
   */
  save(file: string): void {
    if (typeof file !== 'string' || file.length === 0) throw new TypeError('save() needs a file path');
    writeSnapshotFile(file, this);
  }

  /** Reads a snapshot file, checking its version, checksum and every length against its layout. */
  static read(file: string): Snapshot {
    if (typeof file !== 'string' || file.length === 0) throw new TypeError('read() needs a file path');
    const { layout, vcpus, devices, ram } = readSnapshotFile(file);
    return new Snapshot(layout, vcpus, devices, ram);
  }
}
