// Machine.fromSnapshotFile(): a machine of the type and layout a snapshot
// file records, rebuilt by its board, with the snapshot restored into it.
import type { Machine } from './machine';
import type { MachineOptions, SnapshotFileOptions } from './machine-options';
import { boardOfSnapshot, machineTypes } from './machines';
import { checkOptions, type OptionKeys } from './options';
import { Snapshot, SnapshotError } from './snapshot/snapshot';

const SNAPSHOT_FILE_OPTIONS = { serial: true, kvmPath: true, setup: true } as const satisfies OptionKeys<SnapshotFileOptions>;

/** Reads `file`, builds its machine with `create` and restores the snapshot; closes the machine again on failure. */
export function restoreSnapshotFile(file: string, options: SnapshotFileOptions | undefined, where: string, create: (opts: MachineOptions) => Machine): Machine {
  const opts = checkOptions(options, SNAPSHOT_FILE_OPTIONS, where);
  if (opts.setup !== undefined && typeof opts.setup !== 'function') throw new TypeError('setup must be a function (machine) => void');
  const snap = Snapshot.read(file);
  const board = boardOfSnapshot(snap.layout.machine);
  if (board === undefined) {
    const known = machineTypes().map((t) => `"${t.name}"`).join(', ');
    throw new SnapshotError('layout', `snapshot file ${file} is of machine type "${snap.layout.machine}", which this node-kvm does not have (it has ${known}): update node-kvm to restore it`);
  }
  const machine = create({
    ...board.optionsFromSnapshot(snap.layout, file, { serial: opts.serial }),
    machine: board.name, kvmPath: opts.kvmPath,
  } as MachineOptions);
  try {
    opts.setup?.(machine);
    machine.restore(snap);
  } catch (err) {
    machine.close();
    throw err;
  }
  return machine;
}
