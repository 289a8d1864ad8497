// What a board (QEMU's MachineClass) is: its name, its options, and how it
// builds a machine's memory map, devices and vCPU start-up. The shared
// lifecycle (create, load, run, snapshot/restore, close, mtree) is the
// Machine's; a new machine type is one new file in lib/machines that
// implements Board and is listed in lib/machines/index.ts.
import type { CpuidEntry } from '../kvm/cpuid';
import type { Kvm } from '../kvm/system';
import type { StopRequest } from '../kvm/run-loop';
import type { Vcpu } from '../kvm/vcpu';
import type { Vm } from '../kvm/vm';
import type { WakeupReason } from '../devices/acpi-pm-regs';
import type { Device } from '../devices/device';
import type { PciBus } from '../devices/pci/pci-bus';
import type { DebugExit } from '../devices/debug-exit';
import type { InKernelIrqchip } from '../devices/irqchip';
import type { Serial16550A } from '../devices/serial-16550a';
import type { AddressSpace } from '../memory/address-space';
import type { RamList } from '../memory/ram-block';
import type { MemoryRegion } from '../memory/region';
import type { SnapshotLayout } from '../snapshot/snapshot';
import type { CpuMode, GuestWriter } from '../x86/modes';

/** What a board builds into (QEMU's memory_map_init roots and the accelerator). */
export interface BoardContext {
  readonly kvm: Kvm;
  /** The VM, before any vCPU exists (the in-kernel IRQ chip must come first). */
  readonly vm: Vm;
  /** The 'system' container (2^64 bytes): RAM, ROMs, MMIO, the PCI window go under it. */
  readonly system: MemoryRegion;
  /** The 'io' root (64 KiB): port devices go under it. */
  readonly io: MemoryRegion;
  /** The "memory" address space over `system` (what DMA-capable devices read and write). */
  readonly memory: AddressSpace;
  /** The "I/O" address space over `io`. */
  readonly ioSpace: AddressSpace;
  /**
   * Keeps a region the board made (RAM, a ROM, an alias, a container): the
   * machine closes it when it closes, or at once when create() fails.
   */
  own<T extends MemoryRegion>(region: T): T;
  /**
   * Plugs a device in: its regions are mapped after create() returns, in the
   * order devices were plugged, all in one transaction with the board's RAM;
   * snapshots keep its state; the machine closes it.
   */
  plug<T extends Device>(device: T): T;
  /**
   * Ends the current run after the exit being handled: a debug-exit write,
   * a guest reset request (0xcf9, port 0x92, the i8042) or an ACPI power-off.
   */
  requestStop(request: StopRequest): void;
}

/** How the vCPU starts a program (the machine calls it from load() and the first run()). */
export interface ProgramCpuSetup {
  readonly kind: 'program';
  readonly mode: CpuMode;
  /** Where a flat image goes, and where a run without load() starts. */
  readonly loadAddress: bigint;
  /** Puts the (reset) vCPU in `mode`, about to run `entry`: registers, GDT, page tables. */
  enter(vcpu: Vcpu, write: GuestWriter, entry: bigint): void;
}

/**
 * The vCPU starts in firmware at the reset vector, in the state KVM gives a
 * new vCPU (what QEMU's x86_cpu_reset puts back): the machine keeps that
 * state and restores it at every system reset. load() is refused.
 */
export interface FirmwareCpuSetup {
  readonly kind: 'firmware';
  readonly mode: 'real';
  /** The reset vector (0xfffffff0). */
  readonly loadAddress: bigint;
}

/**
 * The vCPU starts in a kernel the board loads itself, without firmware
 * (machine 'microvm'): enter() writes the kernel and its boot information
 * and sets the entry state; `loadAddress` is the kernel's entry. load() is
 * refused; a system reset enters the kernel again.
 */
export interface KernelCpuSetup extends Omit<ProgramCpuSetup, 'kind'> {
  readonly kind: 'kernel';
}

export type CpuSetup = ProgramCpuSetup | FirmwareCpuSetup | KernelCpuSetup;

/** What a board whose guest can reset the machine adds (QEMU's qemu_system_reset). */
export interface SystemResetHooks {
  /** -no-reboot: a guest reset (or triple fault) ends the run instead of rebooting. */
  readonly noReboot: boolean;
  /** The board's steps after every device's reset (QEMU's machine reset: fw_cfg's bootorder, ...). */
  afterReset(): void;
}

/** What a board whose guest can suspend to RAM (ACPI S3) adds (QEMU's qemu_system_suspend / qemu_system_wakeup). */
export interface SuspendHooks {
  /** Resolves with what woke the machine, or null when `timeoutMs` passes first, `signal` aborts or the machine closes. */
  waitForWakeup(timeoutMs: number | undefined, signal: AbortSignal): Promise<WakeupReason | null>;
  /** The board's steps after the wake-up's system reset (QEMU's wakeup notifiers: PM1 WAK_STS). */
  afterWakeup(reason: WakeupReason): void;
}

/** The board's part of a snapshot layout: its name and its parameters. */
export type BoardSnapshotKey = Omit<SnapshotLayout, 'ramBlocks' | 'devices' | 'memoryMap'>;

/** A board built into one VM. */
export interface BoardInstance {
  /** Guest RAM: the region the guest sees at 0, `memorySize` bytes. */
  readonly ram: MemoryRegion;
  readonly memorySize: bigint;
  readonly cpu: CpuSetup;
  /** The console serial port (flushed when a run ends), or null. */
  readonly serial: Serial16550A | null;
  readonly debugExit: DebugExit | null;
  /** The in-kernel IRQ chip (vCPUs then have local APICs in the kernel), or null. */
  readonly irqchip: InKernelIrqchip | null;
  /** The PCI root bus (what `info pci` lists; its functions' bus-master address spaces are in `info mtree`), or none. */
  readonly pciBus?: PciBus;
  /** The CPU's A20 line as the board's gates (port 0x92, the i8042) last set it (`info registers` shows it); default on. */
  a20?(): boolean;
  /** The machine's RAM blocks (what `info ramblock` lists). */
  readonly ramList: RamList;
  /**
   * QEMU's per-CPU address spaces: `cpu-memory-N` over the system root, one
   * per vCPU, listed by `info mtree` (QEMU's machines have them).
   */
  readonly cpuAddressSpaces?: boolean;
  /**
   * The CPUID table of a vCPU (QEMU's -cpu model, filtered by what KVM
   * supports) and QEMU's warnings about it; without it a vCPU gets all KVM
   * supports (like -cpu host).
   */
  cpuid?(vcpu: Vcpu): { entries: CpuidEntry[]; warnings: readonly string[] };
  /** Present when a guest reset reboots the machine (firmware boards). */
  readonly systemReset?: SystemResetHooks;
  /** Present when the guest can suspend the machine and a wake-up source can resume it (needs systemReset). */
  readonly suspend?: SuspendHooks;
  /** What a snapshot of this board must match, besides RAM blocks, devices and memory map. */
  readonly snapshotKey: BoardSnapshotKey;
}

/** The options of Machine.fromSnapshotFile() a board may use (streams are not in a snapshot). */
export interface SnapshotRebuildOptions {
  serial?: unknown;
}

export interface Board {
  /** The machine type's name, as Machine.create({ machine }) takes it. */
  readonly name: string;
  /** One line for the list of machine types (QEMU's -machine help). */
  readonly description: string;
  /** The board's options of Machine.create() (besides `machine` and `kvmPath`), in the order errors list them. */
  readonly optionKeys: Readonly<Record<string, true>>;
  /**
   * Checks the options (their keys are checked already) and returns what
   * builds the board. Throws, opening nothing, on a bad value.
   */
  validate(options: object): BoardPlan;
  /**
   * The Machine.create() options that rebuild the board a snapshot layout
   * records (`file` names the snapshot in errors).
   */
  optionsFromSnapshot(layout: SnapshotLayout, file: string, given: SnapshotRebuildOptions): object;
}

/** Validated options, ready to build. */
export interface BoardPlan {
  /** vCPUs to create (checked by cpus.ts's checkCpus; default 1). */
  readonly cpus?: number;
  /** Builds the board into `ctx` (RAM and devices in QEMU's creation order). */
  create(ctx: BoardContext): BoardInstance;
}
