// The options of Machine.create(), machine.load() and
// Machine.fromSnapshotFile(): the lifecycle's own, beside the boards' (each
// board's options are its own file's, lib/machines/<name>.ts).
import type { Machine } from './machine';
import type { PcBoardOptions } from './machines/pc';
import type { TinyBoardOptions } from './machines/tiny';
import type { DebugRunOptions } from './debug/debug-engine';
import type { AsyncRunOptions, RunOptions } from './kvm/run-loop';
import type { MtreeOptions } from './memory/mtree';
import type { OptionKeys } from './options';
import type { RestoreOptions, SnapshotOptions } from './snapshot/machine-snapshot';

export interface MachineOptions extends TinyBoardOptions, Omit<PcBoardOptions, 'memory' | 'serial' | 'debugExit'> {
  /**
   * The machine type (QEMU's -machine): 'tiny' (the default), 'pc' (QEMU's
   * i440FX PC, booting SeaBIOS) or 'microvm' (a kernel booted without
   * firmware); machineTypes() lists them. The other
   * options are the board's (each board refuses the others').
   */
  machine?: string;
  /** KVM device (default /dev/kvm). */
  kvmPath?: string;
  /**
   * Called with one line per KVM_SET_USER_MEMORY_REGION, in QEMU's
   * kvm_set_user_memory trace format (QEMU's -trace enable=kvm_set_user_memory),
   * from the first slot on. Default: stderr when NODE_KVM_TRACE selects the event.
   */
  traceSlots?: (line: string) => void;
}

export interface LoadOptions {
  /** 'auto' (default) picks ELF when the file starts with \x7fELF. */
  format?: 'auto' | 'flat' | 'elf';
  /** Where a flat binary goes (default: the board's load address; tiny: 0x7c00 in real mode, 0x100000 otherwise). */
  address?: bigint | number;
  /** Entry point (default: the ELF entry, or the flat load address). */
  entry?: bigint | number;
}

/** Options of Machine.fromSnapshotFile(file): how to rebuild the machine a snapshot file records. */
export interface SnapshotFileOptions extends Pick<MachineOptions, 'serial' | 'kvmPath'> {
  /** Adds your devices (with their regions) before the snapshot is restored. */
  setup?: (machine: Machine) => void;
}

/** @deprecated the options of Machine.load(file), now SnapshotFileOptions. */
export type MachineLoadOptions = SnapshotFileOptions;

// The option keys each method accepts (checkOptions refuses the others).
export const LOAD_OPTIONS = { format: true, address: true, entry: true } as const satisfies OptionKeys<LoadOptions>;
/** Options of Machine.create() every board has (besides `machine`, which picks the board). */
export const LIFECYCLE_OPTIONS = { kvmPath: true, traceSlots: true } as const;
export const RUN_OPTIONS = { timeoutMs: true, maxExits: true, trace: true } as const satisfies OptionKeys<RunOptions>;
const ASYNC_RUN_OPTIONS = { ...RUN_OPTIONS, sliceMs: true } as const satisfies OptionKeys<AsyncRunOptions>;
export const DEBUG_RUN_OPTIONS = { ...ASYNC_RUN_OPTIONS, until: true, count: true } as const satisfies OptionKeys<DebugRunOptions>;
export const SNAPSHOT_OPTIONS = { dirtyTracking: true } as const satisfies OptionKeys<SnapshotOptions>;
export const RESTORE_OPTIONS = { cpu: true } as const satisfies OptionKeys<RestoreOptions>;
export const MTREE_OPTIONS = { flat: true, disabled: true } as const satisfies OptionKeys<MtreeOptions>;
