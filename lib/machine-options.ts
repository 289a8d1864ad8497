// The options of Machine.create(), machine.load() and
// Machine.fromSnapshotFile(): the lifecycle's own, beside the boards' (each
// board's options are its own file's, lib/machines/<name>.ts).
import type { Machine } from './machine';
import type { PcBoardOptions } from './machines/pc';
import type { TinyBoardOptions } from './machines/tiny';

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

