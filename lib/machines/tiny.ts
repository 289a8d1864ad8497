// The 'tiny' board: the smallest useful x86 machine, and the one node-kvm
// always had. RAM at 0, a 16550A serial port (COM1), QEMU's isa-debug-exit,
// optionally the in-kernel IRQ chip and PIT, and one vCPU that starts
// directly in the requested CPU mode: no firmware, no PCI. (Not QEMU's
// isapc or microvm: both boot firmware and have other memory maps.)
//
// Guest-physical layout (fixed, so guests can rely on it):
//   0x500      GDT (protected and long mode)
//   0x1000     page tables (long mode; 2 or 6 pages)
//   0x7c00     load address and initial stack top in real mode (a boot sector's place)
//   0x80000    initial stack top in protected and long mode
//   0x100000   load address in protected and long mode
//   4 GiB identity-mapped in long mode (2 MiB pages, or 1 GiB with pdpe1gb)
import type { Readable, Writable } from 'stream';
import { DebugExit, DEBUG_EXIT_PORT } from '../devices/debug-exit';
import { checkIoPort } from '../devices/device';
import { createInKernelIrqchip } from '../devices/irqchip';
import { COM1_PORT, Serial16550A } from '../devices/serial-16550a';
import { RamList } from '../memory/ram-block';
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import { parseSize } from '../parse-size';
import { SnapshotError, type SnapshotLayout } from '../snapshot/snapshot';
import { type CpuMode, setupLongMode, setupProtectedMode, setupRealMode } from '../x86/modes';
import type { Board, BoardContext, BoardInstance, BoardPlan, ProgramCpuSetup, SnapshotRebuildOptions } from './board';
import { hex } from '../util/hex';
import { setMpState } from '../kvm/mp-state';
import { checkCpus } from './cpus';

export const MACHINE_LAYOUT = {
  gdt: 0x500n,
  pageTables: 0x1000n,
  realModeLoad: 0x7c00n,
  realModeStack: 0x7c00n,
  stack: 0x80000n,
  load: 0x100000n,
  identityMap: 4n << 30n,
  serialPort: COM1_PORT,
  debugExitPort: DEBUG_EXIT_PORT,
} as const;

const MAX_MEMORY = 3n << 30n; // RAM stays below the 32-bit MMIO hole (LAPIC, IOAPIC)
const MIN_MEMORY = 1n << 20n;
const MODES: readonly CpuMode[] = ['real', 'protected', 'long'];
/** The in-kernel IRQ chip's GSI for COM1 (ISA IRQ 4). */
const SERIAL_GSI = 4;
/** Where KVM's TSS pages go (QEMU's kvm_arch_init choice: just below the BIOS). */
const TSS_ADDR = 0xfffb_d000;

export interface SerialOptions {
  /** Transmitted bytes (default: process.stdout; null drops them). */
  output?: Writable | null;
  /** Received bytes (default: none). */
  input?: Readable | null;
  /** I/O port base (default 0x3f8, COM1). */
  port?: number;
}

/** The tiny board's options of Machine.create(). */
export interface TinyBoardOptions {
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
  /**
   * vCPUs (default 1). All start at the entry in `mode`, with the same
   * registers and stack: a program tells them apart by CPUID.1 EBX[31:24]
   * (initial APIC ID = index) and gives each its own stack first.
   */
  cpus?: number;
}

const TINY_OPTIONS = { memory: true, mode: true, serial: true, debugExit: true, irqchip: true, cpus: true } as const satisfies OptionKeys<TinyBoardOptions>;
const SERIAL_OPTIONS = { output: true, input: true, port: true } as const satisfies OptionKeys<SerialOptions>;
const DEBUG_EXIT_OPTIONS = { port: true } as const satisfies OptionKeys<{ port?: number }>;

/** The vCPU start-up of each mode, at the fixed MACHINE_LAYOUT addresses. */
function cpuSetup(mode: CpuMode): ProgramCpuSetup {
  return {
    kind: 'program',
    mode,
    loadAddress: mode === 'real' ? MACHINE_LAYOUT.realModeLoad : MACHINE_LAYOUT.load,
    enter(vcpu, write, entry) {
      // An application processor with an in-kernel LAPIC would wait for SIPI: on tiny, programs start on every vCPU.
      if (vcpu.id > 0) setMpState(vcpu, 'runnable');
      if (mode === 'real') {
        if (entry >= 1n << 20n) throw new RangeError(`a real-mode entry must be below 1 MiB, got ${hex(entry)}`);
        // CS:IP with IP < 64 KiB; the stack shares the segment.
        setupRealMode(vcpu, { cs: Number((entry >> 4n) & 0xf000n), ip: entry & 0xffffn, sp: MACHINE_LAYOUT.realModeStack & 0xffffn });
      } else if (mode === 'protected') {
        setupProtectedMode(vcpu, write, { gdtAddr: MACHINE_LAYOUT.gdt, entry, stack: MACHINE_LAYOUT.stack });
      } else {
        setupLongMode(vcpu, write, {
          gdtAddr: MACHINE_LAYOUT.gdt, pageTableAddr: MACHINE_LAYOUT.pageTables,
          identityMapSize: MACHINE_LAYOUT.identityMap, entry, stack: MACHINE_LAYOUT.stack,
        });
      }
    },
  };
}

function validate(options: object): BoardPlan {
  const opts = options as TinyBoardOptions;
  const memorySize = parseSize(opts.memory ?? '16M', 'memory');
  if (memorySize < MIN_MEMORY || memorySize > MAX_MEMORY) throw new RangeError(`memory must be between 1M and 3G, got ${String(opts.memory)}`);
  if (memorySize % 4096n !== 0n) throw new RangeError('memory must be a multiple of 4 KiB');
  const mode = opts.mode ?? 'long';
  if (!MODES.includes(mode)) throw new RangeError(`mode must be 'real', 'protected' or 'long', got ${String(mode)}`);
  const serialOpts = opts.serial === false ? null : checkOptions(opts.serial, SERIAL_OPTIONS, 'Machine.create({ serial })');
  const serialPort = checkIoPort(serialOpts?.port ?? MACHINE_LAYOUT.serialPort, 'serial.port');
  const exitOpts = opts.debugExit === false ? null : checkOptions(opts.debugExit, DEBUG_EXIT_OPTIONS, 'Machine.create({ debugExit })');
  const exitPort = checkIoPort(exitOpts?.port ?? MACHINE_LAYOUT.debugExitPort, 'debugExit.port');
  if (opts.irqchip !== undefined && typeof opts.irqchip !== 'boolean') throw new TypeError('irqchip must be a boolean');
  const wantIrqchip = opts.irqchip ?? false;
  const cpus = checkCpus(opts.cpus);

  return {
    cpus,
    create(ctx: BoardContext): BoardInstance {
      const { vm } = ctx;
      // The in-kernel IRQ chip must exist before any vCPU.
      const irqchip = wantIrqchip ? createInKernelIrqchip(vm) : null;
      if (irqchip) ctx.plug(irqchip);
      // Intel without unrestricted guest needs a TSS page for real mode; harmless elsewhere.
      if (vm.checkExtension('SET_TSS_ADDR')) vm.setTssAddr(TSS_ADDR);
      // Its own RAM list, like a QEMU process: RAM at ram_addr 0 whatever
      // else the process allocated, and nothing process-wide refers to it.
      const ramList = new RamList();
      const ram = ctx.own(MemoryRegion.ram('ram', memorySize, { ramList }));
      ctx.system.addSubregion(0n, ram);
      const serial = serialOpts === null ? null : ctx.plug(new Serial16550A({
        output: serialOpts.output === undefined ? process.stdout : serialOpts.output,
        input: serialOpts.input ?? null,
        irq: irqchip?.line(SERIAL_GSI),
        iobase: serialPort,
      }));
      const debugExit = exitOpts === null ? null : ctx.plug(new DebugExit({
        onExit: (code) => ctx.requestStop({ reason: 'debugExit', exitCode: code }),
        iobase: exitPort,
      }));
      return {
        ram, ramList, memorySize, cpu: cpuSetup(mode), serial, debugExit, irqchip,
        snapshotKey: {
          machine: TINY.name, memory: memorySize, mode, irqchip: irqchip !== null,
          serialPort: serial ? serialPort : null, debugExitPort: debugExit ? exitPort : null,
        },
      };
    },
  };
}

/** Today's machine from a snapshot layout; the serial streams are the caller's. */
function optionsFromSnapshot(l: SnapshotLayout, file: string, given: SnapshotRebuildOptions): TinyBoardOptions {
  const mode = l.mode as CpuMode;
  if (!MODES.includes(mode)) throw new SnapshotError('corrupt', `snapshot file ${file} records an unknown mode "${l.mode}"`);
  const serial = given.serial as SerialOptions | false | undefined;
  return {
    memory: l.memory, mode, irqchip: l.irqchip,
    serial: l.serialPort === null ? false : { ...(serial || {}), port: l.serialPort },
    debugExit: l.debugExitPort === null ? false : { port: l.debugExitPort },
  };
}

export const TINY: Board = {
  name: 'tiny',
  description: 'RAM at 0, COM1 (16550A), isa-debug-exit, optional in-kernel IRQ chip and PIT; the vCPU starts in real, protected or long mode (default)',
  optionKeys: TINY_OPTIONS,
  validate,
  optionsFromSnapshot,
};
