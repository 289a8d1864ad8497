// A machine: the lifecycle every board shares (create, load, run,
// snapshot/restore, close, mtree) around a board (lib/machines) that
// builds the memory map, the devices and the vCPU's start-up. Without a
// `machine` option, Machine.create() builds the 'tiny' board: RAM at 0, a
// 16550A serial port, QEMU's debug-exit port, optionally the in-kernel IRQ
// chip and PIT, and one vCPU already in the requested CPU mode.
import type { DebugExit } from './devices/debug-exit';
import type { Device } from './devices/device';
import type { InKernelIrqchip } from './devices/irqchip';
import type { Serial16550A } from './devices/serial-16550a';
import { KvmError } from './errors';
import { RunLoop, type AsyncRunOptions, type RunOptions, type RunResult, type VcpuRunner } from './kvm/run-loop';
import { SmpRunLoop } from './kvm/smp-run-loop';
import type { Kvm } from './kvm/system';
import type { Vcpu } from './kvm/vcpu';
import type { Vm } from './kvm/vm';
import { assemble, type AssembledMachine, type MachineMemory } from './machines/assemble';
import type { BoardInstance, CpuSetup } from './machines/board';
import { machineTypes, pickBoard } from './machines';
import { MACHINE_LAYOUT, type SerialOptions } from './machines/tiny';
import type { MtreeOptions } from './memory/mtree';
import { formatRamBlocks } from './memory/ramblock-info';
import { machineInfoPci, machineInfoRegisters, machineMtree } from './machine-info';
import type { MemoryRegion } from './memory/region';
import { toAddress, toLength } from './memory/size';
import { MemTxResult } from './memory/types';
import { checkOptions } from './options';
import { isSnapshotDevice, type SnapshotDevice } from './snapshot/device-state';
import { type RestoreOptions, type RestoreStats, SnapshotEngine, type SnapshotOptions } from './snapshot/machine-snapshot';
import { Snapshot, SnapshotError } from './snapshot/snapshot';
import { FIRMWARE_SAVED_MSRS } from './snapshot/vcpu-state';
import { errno } from './util/errno';
import { readImageFile } from './x86/image-file';
import { loadElf, isElf, parseElf } from './x86/loader-elf';
import { loadFlat, type LoadedImage } from './x86/loader-flat';
import { capturePowerOnState, type PowerOnState, resetVcpuState, restorePowerOnState } from './x86/reset';
import { type CpuMode, pageTableBytes } from './x86/modes';
import { hex } from './util/hex';
import { guestRamRange, rangeText } from './machine-guest-ram';
import { DEBUG_RUN_OPTIONS, LIFECYCLE_OPTIONS, LOAD_OPTIONS, type LoadOptions, type MachineOptions, MTREE_OPTIONS, RESTORE_OPTIONS, RUN_OPTIONS, SNAPSHOT_OPTIONS, type SnapshotFileOptions } from './machine-options';
import { deadlineAfter, remaining } from './util/deadline';
import { restoreSnapshotFile } from './machine-snapshot-file';
import { MachineSleep } from './machine-sleep';
import { transaction } from './memory/transaction';
import { DebugEngine, type DebugRunOptions, type DebugRunResult } from './debug/debug-engine';
import type { GdbServer, GdbServerOptions } from './gdb/gdb-server';
import { MachineHooks } from './machine-hooks';

const now = (): number => performance.now();

export { MACHINE_LAYOUT, type MachineMemory, type SerialOptions };
export type { LoadOptions, MachineLoadOptions, MachineOptions, SnapshotFileOptions } from './machine-options';

export class Machine {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly memory: MachineMemory;
  readonly serial: Serial16550A | null;
  readonly debugExit: DebugExit | null;
  readonly irqchip: InKernelIrqchip | null;
  /** The vCPUs (`cpus` of Machine.create(); with several, each runs on its own native thread during run()). */
  readonly vcpus: readonly Vcpu[];
  /** What QEMU would have warned about while building the machine (e.g. CPU features the host lacks), without QEMU's "warning: " prefix. */
  readonly warnings: readonly string[];
  /** The CPU mode the vCPU starts programs in. */
  readonly mode: CpuMode;
  /** Hooks on guest memory accesses (lib/machine-hooks.ts). */
  readonly hooks: MachineHooks;
  /** Bytes of guest RAM at address 0. */
  readonly memorySize: bigint;
  private readonly loops: RunLoop[];
  /** Runs the vCPUs: loops[0] on the JavaScript thread for one, an SmpRunLoop for several. */
  private readonly runner: VcpuRunner;
  private readonly board: BoardInstance;
  private readonly cpu: CpuSetup;
  /** The board's devices, in the order they were plugged. */
  private readonly boardDevices: readonly Device[];
  /** Regions the machine closes when it closes (after the address spaces), in creation order. */
  private readonly owned: MemoryRegion[];
  private closed = false;
  /** Devices whose state snapshots keep, by snapshot name. */
  private readonly devices = new Map<string, SnapshotDevice>();
  private snapshots: SnapshotEngine | undefined;
  private modeSet = false;
  /** The vCPU ran (or got a snapshot's state) since it was last reset. */
  private dirtyCpu = false;
  /** ACPI S3: whether the guest sleeps, and the wait for its wake-up (run() waits in it). */
  private readonly sleep: MachineSleep;
  /** Firmware boards: each vCPU's state as created, put back at every system reset. */
  private readonly powerOn: PowerOnState[] | null;
  readonly debug: DebugEngine; // breakpoints, single-steps, code hooks, run({ until, count }): lib/debug

  private constructor(parts: AssembledMachine) {
    this.kvm = parts.kvm;
    this.vm = parts.vm;
    this.memory = parts.memory;
    this.board = parts.board;
    this.cpu = parts.board.cpu;
    this.mode = parts.board.cpu.mode;
    this.memorySize = parts.board.memorySize;
    this.serial = parts.board.serial;
    this.debugExit = parts.board.debugExit;
    this.irqchip = parts.board.irqchip;
    this.boardDevices = parts.devices;
    this.vcpus = parts.vcpus;
    this.warnings = parts.warnings;
    this.owned = parts.owned;
    this.loops = parts.vcpus.map((v) => new RunLoop(v, parts.memory.io, parts.memory.system));
    const listener = parts.vm.memoryListeners.find((l) => l.addressSpace === parts.memory.system)!;
    this.debug = new DebugEngine({ ...parts, system: this.memory.system, run: (o) => this.runPlain(o), stop: (message) => this.requestStop({ reason: 'stopped', message }) });
    this.hooks = new MachineHooks({ listener, loops: this.loops, checkOpen: (m) => this.checkOpen(m) }, this.debug.codeHooks);
    this.runner = this.loops.length > 1 ? new SmpRunLoop(this.loops) : this.loops[0];
    for (const d of parts.devices) if (isSnapshotDevice(d)) this.devices.set(d.snapshotName, d);
    this.sleep = new MachineSleep(parts.board.suspend);
    this.powerOn = this.cpu.kind === 'firmware'
      ? parts.vcpus.map((v) => capturePowerOnState(parts.kvm, parts.vm, v, this.irqchip !== null))
      : null;
  }

  /**
   * Builds the machine: the board `machine` names (default 'tiny'; an unknown
   * name is a RangeError listing the machine types) with the board's options
   * (an unknown option is a TypeError listing those and kvmPath). Everything
   * is validated first; on failure nothing is left open.
   */
  static async create(opts?: MachineOptions): Promise<Machine> {
    return Machine.createSync(opts);
  }

  /** create(), synchronously. */
  static createSync(options?: MachineOptions): Machine {
    // `machine` picks the board, whose options are then the valid ones (with kvmPath).
    const { board, rest } = pickBoard(options, 'Machine.create()');
    const opts = checkOptions(rest, { ...board.optionKeys, ...LIFECYCLE_OPTIONS }, 'Machine.create()') as Pick<MachineOptions, 'kvmPath' | 'traceSlots'>;
    if (opts.traceSlots !== undefined && typeof opts.traceSlots !== 'function') throw new TypeError('traceSlots must be a function (line: string) => void');
    const plan = board.validate(opts);
    // (devices ask for a stop only while the guest runs, when `machine` is set)
    const machine: Machine = new Machine(assemble(plan, { kvmPath: opts.kvmPath, traceSlots: opts.traceSlots }, (req) => machine.requestStop(req)));
    return machine;
  }

  /** The machine types Machine.create({ machine }) builds, with a line each. */
  static machineTypes(): { name: string; description: string }[] {
    return machineTypes();
  }

  /** The first vCPU. */
  get vcpu(): Vcpu {
    return this.vcpus[0];
  }

  /**
   * Writes bytes to guest-physical memory through the system AddressSpace
   * (`gpa` a bigint or a safe integer); throws a RangeError if any byte is not RAM.
   */
  readonly writeGuest = (gpa: bigint | number, bytes: Uint8Array): void => {
    this.checkOpen('writeGuest');
    if (!(bytes instanceof Uint8Array)) throw new TypeError('writeGuest() expects the bytes as a Uint8Array');
    const addr = this.ramRange(gpa, BigInt(bytes.length), 'guest range');
    const r = this.memory.system.write(addr, bytes);
    if (r !== MemTxResult.OK) throw new RangeError(`writing guest range ${rangeText(addr, BigInt(bytes.length))} failed (MemTxResult ${r})`);
  };

  /** Reads `length` bytes of guest-physical memory; throws a RangeError if any byte is not RAM. */
  readGuest(gpa: bigint | number, length: bigint | number): Uint8Array {
    this.checkOpen('readGuest');
    const len = toLength(length, 'length');
    const addr = this.ramRange(gpa, len, 'guest range');
    const { data, result } = this.memory.system.read(addr, Number(len));
    if (result !== MemTxResult.OK) throw new RangeError(`reading guest range ${rangeText(addr, len)} failed (MemTxResult ${result})`);
    return data;
  }

  /**
   * Loads a flat binary or an ELF executable (bytes or a file path) and points
   * the vCPU at its entry, in the machine's CPU mode.
   */
  load(image: Uint8Array | string, options?: LoadOptions): LoadedImage {
    this.checkOpen('load');
    if (this.cpu.kind === 'firmware') {
      throw new TypeError(`load() puts a program into a firmware-less machine such as 'tiny'; this machine boots its firmware (bios) at ${hex(this.cpu.loadAddress)}: give it a disk instead`);
    }
    if (this.cpu.kind === 'kernel') throw new TypeError('load() puts a program into a machine such as \'tiny\'; this machine boots the kernel it was created with (Machine.create({ kernel }))');
    const opts = checkOptions(options, LOAD_OPTIONS, 'machine.load()');
    const address = opts.address === undefined ? undefined : toAddress(opts.address, 'address');
    const entry = opts.entry === undefined ? undefined : toAddress(opts.entry, 'entry');
    const bytes = typeof image === 'string' ? readImageFile(image, this.memorySize, 'create the machine with more memory') : image;
    const cpu = this.cpu;
    if (!(bytes instanceof Uint8Array)) throw new TypeError('load() expects a Uint8Array or a file path');
    const format = opts.format ?? 'auto';
    if (!['auto', 'flat', 'elf'].includes(format)) throw new RangeError(`format must be 'auto', 'flat' or 'elf', got ${String(format)}`);
    let loaded: LoadedImage;
    if (format === 'elf' || (format === 'auto' && isElf(bytes))) {
      const elf = parseElf(bytes); // validate before writing anything
      if (elf.class === 32 && this.mode === 'long') throw new RangeError("a 32-bit ELF needs mode 'protected' (this machine is in long mode)");
      if (elf.class === 64 && this.mode !== 'long') throw new RangeError(`a 64-bit ELF needs mode 'long' (this machine is in ${this.mode} mode)`);
      for (const s of elf.segments) this.ramRange(s.paddr, s.memsz, 'image range');
      loaded = loadElf(bytes, this.writeGuest);
      if (entry !== undefined) loaded.entry = entry;
    } else {
      const at = address ?? cpu.loadAddress;
      this.ramRange(at, BigInt(bytes.length), 'image range');
      loaded = loadFlat(bytes, this.writeGuest, at, entry ?? at);
    }
    this.setupMode(loaded.entry);
    return loaded;
  }

  private ramRange(gpa: bigint | number, size: bigint, what: 'guest range' | 'image range'): bigint {
    return guestRamRange(this.memory.system, gpa, size, what);
  }

  /**
   * Puts the vCPU in the machine's mode, about to run `entry`. When the vCPU
   * has run since it was last reset, what the last program left behind
   * (pending exceptions, breakpoints, FPU and MSR state) is reset first.
   */
  setupMode(entryPoint: bigint | number): void {
    this.checkOpen('setupMode');
    const entry = toAddress(entryPoint, 'entry');
    const cpu = this.cpu;
    if (cpu.kind === 'firmware') {
      if (entry !== cpu.loadAddress) {
        throw new RangeError(`this machine starts in its firmware at the reset vector ${hex(cpu.loadAddress)}, not at ${hex(entry)}`);
      }
      for (const l of this.loops) l.abandonPending();
      this.vcpus.forEach((v, i) => restorePowerOnState(v, this.powerOn![i]));
      this.dirtyCpu = false;
      this.modeSet = true;
      return;
    }
    if (cpu.kind === 'kernel' && entry !== cpu.loadAddress) {
      throw new RangeError(`this machine starts its kernel at its entry ${hex(cpu.loadAddress)}, not at ${hex(entry)}`);
    }
    if (this.dirtyCpu) {
      for (const l of this.loops) l.abandonPending();
      for (const v of this.vcpus) resetVcpuState(v);
      this.dirtyCpu = false;
    }
    this.modeSet = true;
    for (const v of this.vcpus) cpu.enter(v, this.writeGuest, entry);
  }

  /** Bytes the long-mode page tables take at MACHINE_LAYOUT.pageTables. */
  static pageTableBytes(): bigint {
    return pageTableBytes(MACHINE_LAYOUT.identityMap, '2M');
  }

  /**
   * Runs the guest until it stops (hlt, shutdown, debug-exit, timeout, ...),
   * letting the event loop turn every few milliseconds so serial streams flow.
   * A guest that suspends the machine (ACPI S3, machine 'pc') sleeps, without
   * using the CPU, until a wake-up source fires (the RTC alarm with RTC_EN),
   * then the firmware resumes it; if `timeoutMs` passes or stop() is called
   * first, run() returns reason 'suspend' and the next run() waits on.
   */
  async run(options?: DebugRunOptions): Promise<DebugRunResult> {
    this.checkOpen('run');
    const opts = checkOptions(options, DEBUG_RUN_OPTIONS, 'machine.run()');
    this.ensureMode();
    return opts.until !== undefined || opts.count !== undefined || this.debug.active ? this.debug.run(opts) : this.runPlain(opts);
  }

  private async runPlain(opts: AsyncRunOptions): Promise<RunResult> { // run() without the debugger
    const start = now();
    const deadline = deadlineAfter(opts.timeoutMs); // each run inside gets what is left
    try {
      for (;;) {
        if (this.sleep.asleep && !(await this.sleep.wakeUp(remaining(deadline), () => this.closed, () => this.resetSystem()))) {
          return this.sleep.stillAsleep(now() - start, 'no wake-up came during this run: run() again to wait on');
        }
        this.dirtyCpu = true;
        const result = await this.runner.runAsync({ ...opts, timeoutMs: remaining(deadline) });
        if (!this.closed && this.sleep.suspendAfter(result)) continue;
        if (!this.rebootAfter(result)) return result;
      }
    } finally {
      this.serial?.flush();
    }
  }

  /**
   * run(), without yielding to the event loop (serial input cannot arrive
   * meanwhile). A suspended guest cannot wake without the event loop:
   * runSync() then returns reason 'suspend' and run() waits for the wake-up.
   */
  runSync(options?: RunOptions): RunResult {
    this.checkOpen('runSync');
    const opts = checkOptions(options, RUN_OPTIONS, 'machine.runSync()');
    this.ensureMode();
    const start = now();
    const deadline = deadlineAfter(opts.timeoutMs); // each run inside gets what is left
    try {
      for (;;) {
        if (this.sleep.asleep) return this.sleep.stillAsleep(now() - start, 'runSync() cannot wait for a wake-up: call run()');
        this.dirtyCpu = true;
        const result = this.runner.run({ ...opts, timeoutMs: remaining(deadline) });
        if (!this.closed && this.sleep.suspendAfter(result)) continue;
        if (!this.rebootAfter(result)) return result;
      }
    } finally {
      this.serial?.flush();
    }
  }

  /**
   * After a run ended by a guest reset request or a triple fault: on a board
   * that reboots (and without -no-reboot), resets the machine and returns
   * true, so the run goes on in the firmware, as QEMU's does.
   */
  private rebootAfter(result: RunResult): boolean {
    const hooks = this.board.systemReset;
    if (hooks === undefined || hooks.noReboot || this.closed) return false;
    if (result.reason !== 'reset' && result.reason !== 'shutdown' && result.reason !== 'exception') return false;
    this.resetSystem();
    return true;
  }

  /**
   * QEMU's system_reset: every device back to its power-on state (in the
   * order the board plugged them), the board's reset steps, and the vCPUs
   * at the reset vector, so the firmware runs again. Only boards with
   * firmware (machine 'pc') reset this way; on 'tiny', load() a program again.
   */
  systemReset(): void {
    this.checkOpen('systemReset');
    if (this.board.systemReset === undefined) {
      throw new TypeError(`systemReset() needs a machine that boots firmware (machine 'pc'); this one starts programs directly: load() one again`);
    }
    this.resetSystem();
  }

  private resetSystem(): void {
    this.sleep.clear(); // a reset wakes a sleeping machine (QEMU: the firmware resumes it, as CMOS 0x0f still says)
    this.serial?.flush();
    for (const l of this.loops) l.abandonPending();
    this.runner.discardStopRequest();
    transaction(() => {
      for (const d of this.boardDevices) d.reset?.();
    });
    this.board.systemReset!.afterReset();
    this.setupMode(this.cpu.loadAddress);
  }

  /** Without a load(), the vCPU starts at the default load address. */
  private ensureMode(): void {
    if (!this.modeSet) this.setupMode(this.cpu.loadAddress);
  }

  /** Ends the current run (reason 'stopped') after the exit being handled; a run waiting for a wake-up returns (reason 'suspend'). */
  stop(message?: string): void {
    this.checkOpen('stop');
    if (!this.sleep.interrupt()) this.requestStop({ reason: 'stopped', message });
    this.debug.interrupt(message);
  }

  /** A GDB remote stub on TCP, QEMU's -gdb (lib/gdb/gdb-server.ts); resolves once it listens. */
  async gdbServer(options?: GdbServerOptions): Promise<GdbServer> {
    this.checkOpen('gdbServer');
    this.ensureMode();
    const { startGdbServer } = await import('./gdb/gdb-server'); // the stub (and the monitor it answers qRcmd with) loads only when used
    return startGdbServer(this, options);
  }

  private requestStop(req: Parameters<RunLoop['requestStop']>[0]): void {
    this.runner.requestStop(req);
  }

  /**
   * Adds a device of yours to snapshots: it implements `snapshotName`,
   * `saveState()` and `loadState(state)` (see SnapshotDevice). Map its
   * regions as usual; this only makes snapshots save and restore its state.
   */
  addDevice(device: SnapshotDevice): void {
    this.checkOpen('addDevice');
    if (!isSnapshotDevice(device)) throw new TypeError('addDevice() expects { snapshotName, saveState(), loadState(state) }');
    if (this.devices.has(device.snapshotName)) throw new Error(`a device named "${device.snapshotName}" is already registered`);
    this.devices.set(device.snapshotName, device);
  }

  /**
   * Captures vCPU state, device state and a copy of all guest RAM. The first
   * snapshot turns on dirty-page tracking, so that restoring it later copies
   * only the pages the guest or the host changed since.
   */
  snapshot(options?: SnapshotOptions): Snapshot {
    this.checkOpen('snapshot');
    const opts = checkOptions(options, SNAPSHOT_OPTIONS, 'machine.snapshot()');
    this.ensureMode();
    this.serial?.flush();
    return this.engine().take(opts);
  }

  /**
   * Puts the machine back into `snap`'s state: vCPUs, devices and RAM (only
   * the pages dirtied since the snapshot was last taken or restored). Refuses,
   * changing nothing, a snapshot of another machine layout.
   */
  restore(snap: Snapshot, options?: RestoreOptions): RestoreStats {
    this.checkOpen('restore');
    const opts = checkOptions(options, RESTORE_OPTIONS, 'machine.restore()');
    this.serial?.flush();
    for (const l of this.loops) l.abandonPending(); // the snapshot's registers replace the unfinished instruction's
    const stats = this.engine().restore(snap, opts);
    this.sleep.clear(); // the snapshot's guest was running
    this.modeSet = true; // the vCPU state is the snapshot's now
    this.dirtyCpu = true;
    return stats;
  }

  /**
   * Creates a machine of the type and layout a snapshot file records and
   * restores the snapshot into it. A machine that had devices of yours needs
   * them again before the restore: add them in `setup` (the memory map must
   * match the snapshot's). The serial streams are yours to give again.
   */
  static fromSnapshotFile(file: string, options?: SnapshotFileOptions): Machine {
    return restoreSnapshotFile(file, options, 'Machine.fromSnapshotFile()', (o) => Machine.createSync(o));
  }

  /**
   * @deprecated restores a snapshot file (not to be confused with
   * machine.load(image), which loads a program): use Machine.fromSnapshotFile().
   */
  static load(file: string, options?: SnapshotFileOptions): Machine {
    return restoreSnapshotFile(file, options, 'Machine.load()', (o) => Machine.createSync(o));
  }

  private engine(): SnapshotEngine {
    this.snapshots ??= new SnapshotEngine({
      kvm: this.kvm, vm: this.vm, vcpus: this.vcpus, system: this.memory.system, devices: this.devices,
      shape: this.board.snapshotKey,
      hasLapic: this.irqchip !== null,
      msrs: this.cpu.kind === 'firmware' ? FIRMWARE_SAVED_MSRS : undefined,
      memoryMap: () => this.mtree({ flat: true }),
    });
    return this.snapshots;
  }

  /** `info mtree` for the machine's address spaces (`flat`: `info mtree -f`; `disabled`: `-D`). */
  mtree(options?: MtreeOptions): string {
    this.checkOpen('mtree');
    return machineMtree(this.memory, this.board, checkOptions(options, MTREE_OPTIONS, 'machine.mtree()'));
  }

  /** `info pci`: the PCI functions, as QEMU's monitor prints them (boards with PCI: 'pc'). */
  formatInfoPci(): string {
    this.checkOpen('formatInfoPci');
    return machineInfoPci(this.board);
  }

  /** `info registers` of vCPU `cpu` (default 0), as QEMU prints them; a vCPU running on its thread is held out of KVM_RUN meanwhile. */
  formatInfoRegisters(cpu = 0): string {
    this.checkOpen('formatInfoRegisters');
    return machineInfoRegisters(this.vm, this.vcpus, this.board, cpu);
  }

  /** `info ramblock`: the machine's RAM blocks, as QEMU prints them. */
  formatRamBlocks(): string {
    this.checkOpen('formatRamBlocks');
    return formatRamBlocks(this.board.ramList);
  }

  /**
   * After close() every method throws what a closed vCPU or VM throws: a
   * KvmError with code EBADF (snapshot() and restore() keep their
   * SnapshotError of kind 'closed').
   */
  private checkOpen(method: string): void {
    if (!this.closed) return;
    if (method === 'snapshot' || method === 'restore') throw new SnapshotError('closed', `cannot ${method}: the machine is closed`);
    throw new KvmError(`Machine.${method}`, errno('EBADF'), 'the machine is closed; create a new Machine');
  }

  /** Releases the vCPU, VM, guest RAM and devices. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const steps: (() => void)[] = [
      // The VM first: its slots go with its fd, so unmapping the devices' and
      // the board's regions afterwards costs no KVM_SET_USER_MEMORY_REGION.
      () => this.vm.close(),
      ...this.boardDevices.slice().reverse().map((d) => () => d.close?.()),
      () => { this.memory.system.destroy(); this.memory.io.destroy(); },
      () => { for (const mr of this.owned.slice().reverse()) mr.close(); },
      () => this.kvm.close(),
    ];
    let first: unknown;
    for (const s of steps) {
      try { s(); } catch (e) { first ??= e; }
    }
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
