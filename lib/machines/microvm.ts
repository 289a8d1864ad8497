// The 'microvm' board: QEMU 7.2's microvm idea (hw/i386/microvm.c, after
// Firecracker) without its firmware. QEMU's microvm runs qboot, which reads
// the kernel and QEMU's ACPI tables from fw_cfg and jumps to the kernel;
// here node-kvm itself builds the memory map the kernel gets (microvm/e820.ts),
// the ACPI tables (RSDP in 0xe0000-0xfffff, RSDT, XSDT, a hardware-reduced
// FADT, MADT, DSDT) and the MP table (microvm/firmware-tables.ts, from
// lib/acpi), loads the kernel and sets its entry state (microvm/kernel.ts):
// the vCPU's first instruction is the kernel's. A multiboot v1 kernel boots.
//
// What it has, in QEMU's vocabulary: microvm.ram with ram-below-4g (and
// ram-above-4g past 3 GiB), the in-kernel PIC, IOAPIC, LAPIC and PIT with
// the pc's GSI routing, acpi-ged (its sleep and reset registers), COM1,
// and on request isa-debug-exit and isa-debugcon, as on pc. Not QEMU's:
// no pc.bios/isa-bios (no firmware), no fw_cfg, no virtio-mmio, no second
// IOAPIC, no RTC; one vCPU. A guest reset (the GED's reset register, a
// triple fault) enters the kernel again, as qboot would boot it again.
import type { Writable } from 'stream';
import { AcpiGed } from '../devices/acpi-ged';
import { Debugcon } from '../devices/debugcon';
import { DebugExit, DEBUG_EXIT_PORT } from '../devices/debug-exit';
import { checkIoPort } from '../devices/device';
import { kvmIrqLine } from '../devices/irq-line';
import { createPcInKernelIrqchip } from '../devices/kvm-irqchip-pc';
import { COM1_PORT, Serial16550A } from '../devices/serial-16550a';
import { RamList } from '../memory/ram-block';
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import { parseSize } from '../parse-size';
import { SnapshotError, type SnapshotLayout } from '../snapshot/snapshot';
import { cpuidForModel, parseCpuModel } from '../x86/cpu-models';
import type { Board, BoardContext, BoardInstance, BoardPlan, KernelCpuSetup, SnapshotRebuildOptions } from './board';
import { enterDirectBoot } from './microvm/direct-boot';
import { microvmE820Entries } from './microvm/e820';
import { microvmTables } from './microvm/firmware-tables';
import { prepareDirectKernel } from './microvm/kernel';
import type { SerialOptions } from './tiny';

/** The microvm board's options of Machine.create({ machine: 'microvm', ... }). */
export interface MicrovmBoardOptions {
  /** Guest RAM (QEMU's -m): '128M', bytes as number or bigint (default '128M'). */
  memory?: string | number | bigint;
  /** vCPUs (QEMU's -smp); 1 today. */
  cpus?: number;
  /** QEMU's -cpu (default qemu64), as on pc. */
  cpu?: string;
  /** QEMU's -kernel: a multiboot v1 kernel (ELF32 or a.out kludge); its name as given starts its command line. */
  kernel: string;
  /** QEMU's -append. */
  append?: string;
  /** QEMU's -initrd: multiboot modules, "a,b args" or ['a', 'b args']. */
  initrd?: string | readonly string[];
  /** COM1 (isa-serial at 0x3f8, IRQ 4), or false for none. */
  serial?: SerialOptions | false;
  /** An isa-debugcon (default off). */
  debugcon?: { output: Writable | ((byte: number) => void); iobase?: number } | false;
  /** QEMU's isa-debug-exit (default off): a write of v ends the run with exit code (v << 1) | 1. */
  debugExit?: { port?: number } | false;
  /** QEMU's -no-reboot: a guest reset ends the run (reason 'reset') instead of entering the kernel again. */
  noReboot?: boolean;
}

const MICROVM_OPTIONS = {
  memory: true, cpus: true, cpu: true, kernel: true, append: true, initrd: true,
  serial: true, debugcon: true, debugExit: true, noReboot: true,
} as const satisfies OptionKeys<MicrovmBoardOptions>;
const SERIAL_OPTIONS = { output: true, input: true, port: true } as const satisfies OptionKeys<SerialOptions>;
const DEBUGCON_OPTIONS = { output: true, iobase: true } as const;
const DEBUG_EXIT_OPTIONS = { port: true } as const;

const DEFAULT_MEMORY = 128n << 20n;
/** microvm_memory_init: RAM up to 3 GiB stays below 4 GiB, the rest goes above. */
const MAX_BELOW_4G = 3n << 30n;
const FOUR_GIB = 1n << 32n;
const DEFAULT_CPU_MODEL = 'qemu64';
const COM1_IRQ = 4;
/** Where KVM's TSS pages go, as on pc (the e820 map reserves them). */
const TSS_ADDR = 0xfeffd000;
/** The flat GDT the kernel is entered with (below the PVH start info and the multiboot MBI). */
const GDT_ADDR = 0x500n;

function validate(options: object): BoardPlan {
  const opts = options as MicrovmBoardOptions;
  const memorySize = opts.memory === undefined ? DEFAULT_MEMORY : parseSize(opts.memory, 'memory');
  if (memorySize < 2n << 20n || memorySize % 4096n !== 0n) throw new RangeError(`memory must be a multiple of 4 KiB, at least 2M, got ${String(opts.memory)}`);
  const cpus = opts.cpus ?? 1;
  if (cpus !== 1) throw new RangeError(`cpus must be 1 on the microvm machine today (several vCPUs are not supported yet), got ${String(cpus)}`);
  if (opts.cpu !== undefined && typeof opts.cpu !== 'string') throw new TypeError("cpu must be a QEMU -cpu string such as 'qemu64'");
  const cpuModel = parseCpuModel(opts.cpu ?? DEFAULT_CPU_MODEL);
  const serialOpts = opts.serial === false ? null : checkOptions(opts.serial, SERIAL_OPTIONS, 'Machine.create({ serial })');
  const serialPort = checkIoPort(serialOpts?.port ?? COM1_PORT, 'serial.port');
  const conOpts = opts.debugcon === undefined || opts.debugcon === false ? null : checkOptions(opts.debugcon, DEBUGCON_OPTIONS, 'Machine.create({ debugcon })');
  const exitOpts = opts.debugExit === undefined || opts.debugExit === false ? null : checkOptions(opts.debugExit, DEBUG_EXIT_OPTIONS, 'Machine.create({ debugExit })');
  const exitPort = exitOpts === null ? null : checkIoPort(exitOpts.port ?? DEBUG_EXIT_PORT, 'debugExit.port');
  if (opts.noReboot !== undefined && typeof opts.noReboot !== 'boolean') throw new TypeError('noReboot must be a boolean');
  if (opts.kernel === undefined) throw new TypeError("the microvm machine has no firmware: give it a kernel (Machine.create({ machine: 'microvm', kernel: 'file' }))");
  const below4g = memorySize < MAX_BELOW_4G ? memorySize : MAX_BELOW_4G;
  const above4g = memorySize - below4g;
  const e820 = microvmE820Entries(below4g, above4g);
  // Read last: the checks above open nothing.
  const kernel = prepareDirectKernel({ kernel: opts.kernel, append: opts.append, initrd: opts.initrd }, memorySize, below4g);

  return {
    create(ctx: BoardContext): BoardInstance {
      const { vm } = ctx;
      const supported = ctx.kvm.supportedCpuid();
      const atBoot = cpuidForModel(supported, cpuModel, { apicId: 0, cpuCount: cpus, tscKhz: 0 });
      if (memorySize > below4g && atBoot.cpu.physBits < 33) throw new RangeError(`${memorySize} bytes of RAM need RAM above 4 GiB, which this CPU's ${atBoot.cpu.physBits} physical address bits cannot reach`);
      const irqchip = createPcInKernelIrqchip(vm);
      if (irqchip === null) throw new RangeError('the microvm machine needs the in-kernel IRQ chip (KVM_CAP_IRQCHIP), which this KVM does not offer');
      ctx.plug(irqchip);
      if (vm.checkExtension('SET_TSS_ADDR')) vm.setTssAddr(TSS_ADDR);

      // microvm_memory_init: the RAM block and its aliases below and above 4 GiB.
      const ramList = new RamList();
      const ram = ctx.own(MemoryRegion.ram('microvm.ram', memorySize, { ramList }));
      ctx.system.addSubregion(0n, ctx.own(MemoryRegion.alias('ram-below-4g', ram, 0n, below4g)));
      if (above4g > 0n) ctx.system.addSubregion(FOUR_GIB, ctx.own(MemoryRegion.alias('ram-above-4g', ram, below4g, above4g)));

      ctx.plug(new AcpiGed({
        onPowerOff: () => ctx.requestStop({ reason: 'poweroff', message: 'the guest entered S5 (ACPI sleep, GED sleep control register)' }),
        onReset: () => ctx.requestStop({ reason: 'reset', message: 'the guest reset the machine (GED reset register)' }),
      }));
      const serial = serialOpts === null ? null : ctx.plug(new Serial16550A({
        output: serialOpts.output === undefined ? process.stdout : serialOpts.output,
        input: serialOpts.input ?? null,
        irq: kvmIrqLine(vm, COM1_IRQ),
        iobase: serialPort,
      }));
      if (conOpts !== null) ctx.plug(new Debugcon({ output: conOpts.output, iobase: conOpts.iobase ?? 0x402 }));
      const debugExit = exitPort === null ? null : ctx.plug(new DebugExit({
        onExit: (code) => ctx.requestStop({ reason: 'debugExit', exitCode: code }),
        iobase: exitPort,
      }));

      const leaf1 = atBoot.entries.find((e) => e.function === 1);
      const tables = microvmTables({ apicIds: [0], cpuSignature: leaf1?.eax ?? 0, cpuFeatures: leaf1?.edx ?? 0 });
      const boot = kernel.boot(e820, tables.rsdp);
      const cpu: KernelCpuSetup = {
        kind: 'kernel', mode: 'protected', loadAddress: kernel.entry,
        // Every entry (the first run, a reboot) writes the tables and the kernel again, as qboot would.
        enter: (vcpu, write) => enterDirectBoot(vcpu, write, { writes: [...tables.writes, ...boot.writes], registers: boot.registers }, GDT_ADDR),
      };
      return {
        ram, ramList, memorySize, cpu, serial, debugExit, irqchip, cpuAddressSpaces: true,
        cpuid: (vcpu) => {
          const model = cpuidForModel(supported, cpuModel, { apicId: vcpu.id, cpuCount: cpus, tscKhz: vcpu.getTscKhz() });
          return { entries: model.entries, warnings: [...cpuModel.warnings, ...model.warnings] };
        },
        systemReset: { noReboot: opts.noReboot ?? false, afterReset: () => undefined },
        snapshotKey: {
          machine: MICROVM.name, memory: memorySize, mode: 'protected', irqchip: true,
          serialPort: serial ? serialPort : null, debugExitPort: debugExit ? exitPort : null,
        },
      };
    },
  };
}

/** A snapshot file cannot name the kernel and its modules: restore into a running machine instead. */
function optionsFromSnapshot(_l: SnapshotLayout, file: string, _given: SnapshotRebuildOptions): MicrovmBoardOptions {
  throw new SnapshotError('layout', `snapshot file ${file} is of a microvm machine: restore it into a running microvm machine of the same options with machine.restore(Snapshot.read(file))`);
}

export const MICROVM: Board = {
  name: 'microvm',
  description: 'microvm (QEMU 7.2\'s idea, without firmware): node-kvm loads the kernel and builds its E820 map, ACPI and MP tables; COM1, in-kernel PIC/IOAPIC/LAPIC/PIT',
  optionKeys: MICROVM_OPTIONS,
  validate,
  optionsFromSnapshot,
};
