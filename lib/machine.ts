// A small x86 PC-like machine: system and I/O address spaces, RAM at 0, a
// 16550A serial port, QEMU's debug-exit port, optionally the in-kernel IRQ
// chip and PIT, and one vCPU already in the requested CPU mode.
//
// Guest-physical layout (fixed, so guests can rely on it):
//   0x500      GDT (protected and long mode)
//   0x1000     page tables (long mode; 2 or 6 pages)
//   0x7c00     load address and initial stack top in real mode (a boot sector's place)
//   0x80000    initial stack top in protected and long mode
//   0x100000   load address in protected and long mode
//   4 GiB identity-mapped in long mode (2 MiB pages, or 1 GiB with pdpe1gb)
import * as fs from 'fs';
import type { Readable, Writable } from 'stream';
import { DebugExit, DEBUG_EXIT_PORT } from './devices/debug-exit';
import { createInKernelIrqchip, InKernelIrqchip } from './devices/irqchip';
import { Serial16550A } from './devices/serial-16550a';
import { KvmError } from './errors';
import { RunLoop, type AsyncRunOptions, type RunOptions, type RunResult } from './kvm/run-loop';
import type { CpuidEntry } from './kvm/cpuid';
import { Kvm } from './kvm/system';
import type { Vcpu } from './kvm/vcpu';
import type { Vm } from './kvm/vm';
import { AddressSpace } from './memory/address-space';
import { formatMtree } from './memory/mtree';
import { RamList } from './memory/ram-block';
import { MemoryRegion, UNASSIGNED_IO_OPS } from './memory/region';
import { transaction } from './memory/transaction';
import { toAddress, toLength } from './memory/size';
import { MemTxResult } from './memory/types';
import { checkOptions, type OptionKeys } from './options';
import { parseSize } from './parse-size';
import { isSnapshotDevice, type SnapshotDevice } from './snapshot/device-state';
import { type RestoreOptions, type RestoreStats, SnapshotEngine, type SnapshotOptions } from './snapshot/machine-snapshot';
import { Snapshot, SnapshotError, type SnapshotLayout } from './snapshot/snapshot';
import { loadElf, isElf, parseElf } from './x86/loader-elf';
import { loadFlat, type LoadedImage } from './x86/loader-flat';
import { resetVcpuState } from './x86/reset';
import { type CpuMode, type GuestWriter, pageTableBytes, setupLongMode, setupProtectedMode, setupRealMode } from './x86/modes';

export const MACHINE_LAYOUT = {
  gdt: 0x500n,
  pageTables: 0x1000n,
  realModeLoad: 0x7c00n,
  realModeStack: 0x7c00n,
  stack: 0x80000n,
  load: 0x100000n,
  identityMap: 4n << 30n,
  serialPort: 0x3f8,
  debugExitPort: DEBUG_EXIT_PORT,
} as const;

const MAX_MEMORY = 3n << 30n; // RAM stays below the 32-bit MMIO hole (LAPIC, IOAPIC)
const MIN_MEMORY = 1n << 20n;

export interface SerialOptions {
  /** Transmitted bytes (default: process.stdout; null drops them). */
  output?: Writable | null;
  /** Received bytes (default: none). */
  input?: Readable | null;
  /** I/O port base (default 0x3f8, COM1). */
  port?: number;
}

export interface MachineOptions {
  /** Guest RAM at address 0: '16M', '512K', bytes as number or bigint (default '16M'; 1 MiB to 3 GiB). */
  memory?: string | number | bigint;
  /** CPU mode the vCPU starts in (default 'long'). */
  mode?: CpuMode;
  /** The COM1 serial port, or false for none. */
  serial?: SerialOptions | false;
  /** The isa-debug-exit port ({ port } default 0x501), or false for none. */
  debugExit?: { port?: number } | false;
  /**
   * Create the in-kernel IRQ chip and PIT (default false). With it, `hlt`
   * waits for an interrupt in the kernel instead of ending the run.
   */
  irqchip?: boolean;
  /** KVM device (default /dev/kvm). */
  kvmPath?: string;
}

export interface LoadOptions {
  /** 'auto' (default) picks ELF when the file starts with \x7fELF. */
  format?: 'auto' | 'flat' | 'elf';
  /** Where a flat binary goes (default 0x7c00 in real mode, 0x100000 otherwise). */
  address?: bigint | number;
  /** Entry point (default: the ELF entry, or the flat load address). */
  entry?: bigint | number;
}

/** Options of Machine.load(file): how to rebuild the machine a snapshot file records. */
export interface MachineLoadOptions extends Pick<MachineOptions, 'serial' | 'kvmPath'> {
  /** Adds your devices (with their regions) before the snapshot is restored. */
  setup?: (machine: Machine) => void;
}

const MACHINE_OPTIONS = { memory: true, mode: true, serial: true, debugExit: true, irqchip: true, kvmPath: true } as const satisfies OptionKeys<MachineOptions>;
const SERIAL_OPTIONS = { output: true, input: true, port: true } as const satisfies OptionKeys<SerialOptions>;
const DEBUG_EXIT_OPTIONS = { port: true } as const satisfies OptionKeys<{ port?: number }>;
const LOAD_OPTIONS = { format: true, address: true, entry: true } as const satisfies OptionKeys<LoadOptions>;
const MACHINE_LOAD_OPTIONS = { serial: true, kvmPath: true, setup: true } as const satisfies OptionKeys<MachineLoadOptions>;
const RUN_OPTIONS = { timeoutMs: true, maxExits: true, trace: true } as const satisfies OptionKeys<RunOptions>;
const ASYNC_RUN_OPTIONS = { ...RUN_OPTIONS, sliceMs: true } as const satisfies OptionKeys<AsyncRunOptions>;
const SNAPSHOT_OPTIONS = { dirtyTracking: true } as const satisfies OptionKeys<SnapshotOptions>;
const RESTORE_OPTIONS = { cpu: true } as const satisfies OptionKeys<RestoreOptions>;
const MTREE_OPTIONS = { flat: true } as const satisfies OptionKeys<{ flat?: boolean }>;

const EBADF = 9;

/** The machine's memory: address spaces and the regions it made. */
export interface MachineMemory {
  /** The system (memory) AddressSpace; map MMIO devices under `root`. */
  readonly system: AddressSpace;
  /** The I/O port AddressSpace; map port devices under `ioRoot`. */
  readonly io: AddressSpace;
  readonly root: MemoryRegion;
  readonly ioRoot: MemoryRegion;
  readonly ram: MemoryRegion;
}

const MODES: readonly CpuMode[] = ['real', 'protected', 'long'];

// KVM_GET_SUPPORTED_CPUID is a property of the host's KVM module and costs
// hundreds of microseconds under nested KVM: fetch it once per device path
// (QEMU caches it the same way).
const supportedCpuidCache = new Map<string, CpuidEntry[]>();

function supportedCpuid(kvm: Kvm): CpuidEntry[] {
  let entries = supportedCpuidCache.get(kvm.path);
  if (!entries) {
    entries = kvm.supportedCpuid();
    supportedCpuidCache.set(kvm.path, entries);
  }
  return entries;
}

function checkPort(port: unknown, what: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new RangeError(`${what} must be an integer port in [0, 0xffff], got ${String(port)}`);
  }
  return port;
}

export class Machine {
  readonly memory: MachineMemory;
  readonly serial: Serial16550A | null;
  readonly debugExit: DebugExit | null;
  readonly irqchip: InKernelIrqchip | null;
  /** The vCPUs (one today; the run loop and devices are per vCPU so more can follow, one thread each). */
  readonly vcpus: readonly Vcpu[];
  private readonly loops: RunLoop[];
  private readonly owned: MemoryRegion[];
  private closed = false;
  /** Devices whose state snapshots keep, by snapshot name. */
  private readonly devices = new Map<string, SnapshotDevice>();
  private snapshots: SnapshotEngine | undefined;
  private modeSet = false;
  /** The vCPU ran (or got a snapshot's state) since it was last reset. */
  private dirtyCpu = false;

  private constructor(
    readonly kvm: Kvm,
    readonly vm: Vm,
    readonly mode: CpuMode,
    readonly memorySize: bigint,
    parts: {
      memory: MachineMemory; serial: Serial16550A | null; debugExit: DebugExit | null; irqchip: InKernelIrqchip | null;
      vcpus: Vcpu[]; owned: MemoryRegion[]; ports: { serial: number | null; debugExit: number | null };
    },
  ) {
    this.memory = parts.memory;
    this.serial = parts.serial;
    this.debugExit = parts.debugExit;
    this.irqchip = parts.irqchip;
    this.vcpus = parts.vcpus;
    this.owned = parts.owned;
    this.loops = parts.vcpus.map((v) => new RunLoop(v, parts.memory.io, parts.memory.system));
    this.ports = parts.ports;
    for (const d of [parts.serial, parts.debugExit, parts.irqchip]) if (d) this.devices.set(d.snapshotName, d);
  }

  private readonly ports: { serial: number | null; debugExit: number | null };

  /** Builds the machine. Everything is validated first; on failure nothing is left open. */
  static async create(opts?: MachineOptions): Promise<Machine> {
    return Machine.createSync(opts);
  }

  /** create(), synchronously. */
  static createSync(options?: MachineOptions): Machine {
    const opts = checkOptions(options, MACHINE_OPTIONS, 'Machine.create()');
    const memorySize = parseSize(opts.memory ?? '16M', 'memory');
    if (memorySize < MIN_MEMORY || memorySize > MAX_MEMORY) throw new RangeError(`memory must be between 1M and 3G, got ${String(opts.memory)}`);
    if (memorySize % 4096n !== 0n) throw new RangeError('memory must be a multiple of 4 KiB');
    const mode = opts.mode ?? 'long';
    if (!MODES.includes(mode)) throw new RangeError(`mode must be 'real', 'protected' or 'long', got ${String(mode)}`);
    const serialOpts = opts.serial === false ? null : checkOptions(opts.serial, SERIAL_OPTIONS, 'Machine.create({ serial })');
    const serialPort = checkPort(serialOpts?.port ?? MACHINE_LAYOUT.serialPort, 'serial.port');
    const exitOpts = opts.debugExit === false ? null : checkOptions(opts.debugExit, DEBUG_EXIT_OPTIONS, 'Machine.create({ debugExit })');
    const exitPort = checkPort(exitOpts?.port ?? MACHINE_LAYOUT.debugExitPort, 'debugExit.port');
    if (opts.irqchip !== undefined && typeof opts.irqchip !== 'boolean') throw new TypeError('irqchip must be a boolean');

    const kvm = Kvm.open(opts.kvmPath);
    const cleanup: (() => void)[] = [() => kvm.close()];
    try {
      const vm = kvm.createVm();
      cleanup.push(() => vm.close());
      // The in-kernel IRQ chip must exist before any vCPU.
      const irqchip = opts.irqchip ? createInKernelIrqchip(vm) : null;
      // Intel without unrestricted guest needs a TSS page for real mode; harmless elsewhere.
      if (vm.checkExtension('SET_TSS_ADDR')) vm.ioctl('KVM_SET_TSS_ADDR', 0xfffb_d000);

      // QEMU's names: the "system" container and the "io" root with unassigned_io_ops.
      const root = MemoryRegion.container('system', 1n << 64n);
      const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
      const owned: MemoryRegion[] = [root, ioRoot];
      cleanup.push(() => { for (const mr of owned.slice().reverse()) mr.close(); });
      // Its own RAM list, like a QEMU process: RAM at ram_addr 0 whatever
      // else the process allocated, and nothing process-wide refers to it.
      const ram = MemoryRegion.ram('ram', memorySize, { ramList: new RamList() });
      owned.push(ram);

      let machine: Machine | undefined;
      const serial = serialOpts === null ? null : new Serial16550A({
        output: serialOpts.output === undefined ? process.stdout : serialOpts.output,
        input: serialOpts.input ?? null,
        irq: irqchip ? (level) => irqchip.setIrq(4, level) : undefined,
      });
      if (serial) {
        cleanup.push(() => serial.close());
        owned.push(serial.region);
      }
      const debugExit = exitOpts === null ? null : new DebugExit({
        onExit: (code) => machine?.requestStop({ reason: 'debugExit', exitCode: code }),
      });
      if (debugExit) owned.push(debugExit.region);

      const spaces: AddressSpace[] = [];
      transaction(() => {
        root.addSubregion(0n, ram);
        if (serial) ioRoot.addSubregion(BigInt(serialPort), serial.region);
        if (debugExit) ioRoot.addSubregion(BigInt(exitPort), debugExit.region);
      });
      const system = new AddressSpace(root, 'memory');
      spaces.push(system);
      const io = new AddressSpace(ioRoot, 'I/O');
      spaces.push(io);
      cleanup.push(() => { for (const s of spaces) s.destroy(); });
      vm.addAddressSpace(system);

      const vcpu = vm.createVcpu(0);
      // Like QEMU's -cpu host: everything KVM can offer (pdpe1gb decides the page size below).
      vcpu.setCpuid(supportedCpuid(kvm));

      machine = new Machine(kvm, vm, mode, memorySize, {
        memory: { system, io, root, ioRoot, ram }, serial, debugExit, irqchip, vcpus: [vcpu], owned,
        ports: { serial: serial ? serialPort : null, debugExit: debugExit ? exitPort : null },
      });
      // The vCPU is put into its mode by load() (or the first run()), which knows
      // the entry point: doing it here too would cost four more ioctls.
      return machine;
    } catch (err) {
      for (const f of cleanup.reverse()) {
        try { f(); } catch { /* report the original error */ }
      }
      throw err;
    }
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
    if (r !== MemTxResult.OK) throw new RangeError(`writing guest range ${this.rangeText(addr, BigInt(bytes.length))} failed (MemTxResult ${r})`);
  };

  /** Reads `length` bytes of guest-physical memory; throws a RangeError if any byte is not RAM. */
  readGuest(gpa: bigint | number, length: bigint | number): Uint8Array {
    this.checkOpen('readGuest');
    const len = toLength(length, 'length');
    const addr = this.ramRange(gpa, len, 'guest range');
    const { data, result } = this.memory.system.read(addr, Number(len));
    if (result !== MemTxResult.OK) throw new RangeError(`reading guest range ${this.rangeText(addr, len)} failed (MemTxResult ${result})`);
    return data;
  }

  /**
   * Loads a flat binary or an ELF executable (bytes or a file path) and points
   * the vCPU at its entry, in the machine's CPU mode.
   */
  load(image: Uint8Array | string, options?: LoadOptions): LoadedImage {
    this.checkOpen('load');
    const opts = checkOptions(options, LOAD_OPTIONS, 'machine.load()');
    const address = opts.address === undefined ? undefined : toAddress(opts.address, 'address');
    const entry = opts.entry === undefined ? undefined : toAddress(opts.entry, 'entry');
    const bytes = typeof image === 'string' ? new Uint8Array(fs.readFileSync(image)) : image;
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
      const at = address ?? (this.mode === 'real' ? MACHINE_LAYOUT.realModeLoad : MACHINE_LAYOUT.load);
      this.ramRange(at, BigInt(bytes.length), 'image range');
      loaded = loadFlat(bytes, this.writeGuest, at, entry ?? at);
    }
    this.setupMode(loaded.entry);
    return loaded;
  }

  /**
   * Normalises a guest address (bigint or safe integer) and checks that
   * [gpa, gpa+size) is guest RAM: an access (readGuest, writeGuest) or the
   * range an image needs (load, with the advice to give the machine more RAM).
   */
  private ramRange(gpa: bigint | number, size: bigint, what: 'guest range' | 'image range'): bigint {
    const addr = toAddress(gpa, 'guest address');
    if (addr + size > this.memorySize) {
      const ram = `0-0x${this.memorySize.toString(16)}`;
      throw new RangeError(what === 'guest range'
        ? `guest range ${this.rangeText(addr, size)} is outside RAM (${ram})`
        : `image range ${this.rangeText(addr, size)} is outside guest RAM (${ram}); use a larger memory size`);
    }
    return addr;
  }

  private rangeText(gpa: bigint, size: bigint): string {
    return `0x${gpa.toString(16)}-0x${(gpa + size).toString(16)}`;
  }

  /**
   * Puts the vCPU in the machine's mode, about to run `entry`. When the vCPU
   * has run since it was last reset, what the last program left behind
   * (pending exceptions, breakpoints, FPU and MSR state) is reset first.
   */
  setupMode(entryPoint: bigint | number): void {
    this.checkOpen('setupMode');
    const entry = toAddress(entryPoint, 'entry');
    const vcpu = this.vcpu;
    if (this.dirtyCpu) {
      for (const l of this.loops) l.abandonPendingIo();
      resetVcpuState(vcpu);
      this.dirtyCpu = false;
    }
    this.modeSet = true;
    if (this.mode === 'real') {
      if (entry >= 1n << 20n) throw new RangeError(`a real-mode entry must be below 1 MiB, got 0x${entry.toString(16)}`);
      // CS:IP with IP < 64 KiB; the stack shares the segment.
      setupRealMode(vcpu, { cs: Number((entry >> 4n) & 0xf000n), ip: entry & 0xffffn, sp: MACHINE_LAYOUT.realModeStack & 0xffffn });
    } else if (this.mode === 'protected') {
      setupProtectedMode(vcpu, this.writeGuest, { gdtAddr: MACHINE_LAYOUT.gdt, entry, stack: MACHINE_LAYOUT.stack });
    } else {
      setupLongMode(vcpu, this.writeGuest, {
        gdtAddr: MACHINE_LAYOUT.gdt, pageTableAddr: MACHINE_LAYOUT.pageTables,
        identityMapSize: MACHINE_LAYOUT.identityMap, entry, stack: MACHINE_LAYOUT.stack,
      });
    }
  }

  /** Bytes the long-mode page tables take at MACHINE_LAYOUT.pageTables. */
  static pageTableBytes(): bigint {
    return pageTableBytes(MACHINE_LAYOUT.identityMap, '2M');
  }

  /**
   * Runs the guest until it stops (hlt, shutdown, debug-exit, timeout, ...),
   * letting the event loop turn every few milliseconds so serial streams flow.
   */
  async run(options?: AsyncRunOptions): Promise<RunResult> {
    this.checkOpen('run');
    const opts = checkOptions(options, ASYNC_RUN_OPTIONS, 'machine.run()');
    this.ensureMode();
    this.dirtyCpu = true;
    try {
      return await this.loops[0].runAsync(opts);
    } finally {
      this.serial?.flush();
    }
  }

  /** run(), without yielding to the event loop (serial input cannot arrive meanwhile). */
  runSync(options?: RunOptions): RunResult {
    this.checkOpen('runSync');
    const opts = checkOptions(options, RUN_OPTIONS, 'machine.runSync()');
    this.ensureMode();
    this.dirtyCpu = true;
    try {
      return this.loops[0].run(opts);
    } finally {
      this.serial?.flush();
    }
  }

  /** Without a load(), the vCPU starts at the default load address. */
  private ensureMode(): void {
    if (!this.modeSet) this.setupMode(this.mode === 'real' ? MACHINE_LAYOUT.realModeLoad : MACHINE_LAYOUT.load);
  }

  /** Ends the current run (reason 'stopped') after the exit being handled. */
  stop(message?: string): void {
    this.checkOpen('stop');
    this.requestStop({ reason: 'stopped', message });
  }

  private requestStop(req: Parameters<RunLoop['requestStop']>[0]): void {
    for (const l of this.loops) l.requestStop(req);
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
    for (const l of this.loops) l.abandonPendingIo(); // the snapshot's registers replace the unfinished instruction's
    const stats = this.engine().restore(snap, opts);
    this.modeSet = true; // the vCPU state is the snapshot's now
    this.dirtyCpu = true;
    return stats;
  }

  /**
   * Creates a machine with the layout recorded in a snapshot file and restores
   * it. A machine that had devices of yours needs them again before the
   * restore: add them in `setup` (the memory map must match the snapshot's).
   */
  static load(file: string, options?: MachineLoadOptions): Machine {
    const opts = checkOptions(options, MACHINE_LOAD_OPTIONS, 'Machine.load()');
    if (opts.setup !== undefined && typeof opts.setup !== 'function') throw new TypeError('setup must be a function (machine) => void');
    const snap = Snapshot.read(file);
    const l = snap.layout;
    const mode = l.mode as CpuMode;
    if (!MODES.includes(mode)) throw new SnapshotError('corrupt', `snapshot file ${file} records an unknown mode "${l.mode}"`);
    const serial = l.serialPort === null ? false : { ...(opts.serial || {}), port: l.serialPort };
    const machine = Machine.createSync({
      memory: l.memory, mode, irqchip: l.irqchip, kvmPath: opts.kvmPath, serial,
      debugExit: l.debugExitPort === null ? false : { port: l.debugExitPort },
    });
    try {
      opts.setup?.(machine);
      machine.restore(snap);
    } catch (err) {
      machine.close();
      throw err;
    }
    return machine;
  }

  private engine(): SnapshotEngine {
    this.snapshots ??= new SnapshotEngine({
      kvm: this.kvm, vm: this.vm, vcpus: this.vcpus, system: this.memory.system, devices: this.devices,
      shape: {
        memory: this.memorySize, mode: this.mode, irqchip: this.irqchip !== null,
        serialPort: this.ports.serial, debugExitPort: this.ports.debugExit,
      } satisfies Omit<SnapshotLayout, 'ramBlocks' | 'devices' | 'memoryMap'>,
      hasLapic: this.irqchip !== null,
      memoryMap: () => this.mtree({ flat: true }),
    });
    return this.snapshots;
  }

  /** `info mtree` for the machine's address spaces (`flat`: `info mtree -f`). */
  mtree(options?: { flat?: boolean }): string {
    this.checkOpen('mtree');
    const opts = checkOptions(options, MTREE_OPTIONS, 'machine.mtree()');
    return formatMtree([this.memory.system, this.memory.io], { flat: !!opts.flat });
  }

  /**
   * After close() every method throws what a closed vCPU or VM throws: a
   * KvmError with code EBADF (snapshot() and restore() keep their
   * SnapshotError of kind 'closed').
   */
  private checkOpen(method: string): void {
    if (!this.closed) return;
    if (method === 'snapshot' || method === 'restore') throw new SnapshotError('closed', `cannot ${method}: the machine is closed`);
    throw new KvmError(`Machine.${method}`, EBADF, 'the machine is closed; create a new Machine');
  }

  /** Releases the vCPU, VM, guest RAM and devices. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const steps: (() => void)[] = [
      () => this.serial?.close(),
      () => this.vm.close(), // vCPUs and slots go with the VM
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
