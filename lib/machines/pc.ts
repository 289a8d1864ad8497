// The 'pc' board: QEMU 7.2's `pc` machine (pc-i440fx-7.2) on KVM, built in
// pc_init1's order (hw/i386/pc_piix.c) from the models in lib/devices and
// lib/machines/pc, so that the real SeaBIOS POSTs on it and the memory map
// is QEMU's. The vCPU starts at the reset vector (0xfffffff0) in the
// firmware; a guest reset (0xcf9, port 0x92, the i8042, a triple fault)
// resets every device and the vCPU and runs the firmware again.
//
// What it has, in QEMU's vocabulary: pc.ram with ram-below-4g/ram-above-4g,
// pc.bios/isa-bios/pc.rom, i440FX-pcihost + i440FX (PAM, SMRAM), PIIX3 (ISA
// bridge, PIRQ routing, ELCR, reset control), piix3-ide with two ide buses
// and BMDMA, PIIX4_PM (ACPI PM, SCI on IRQ 9), fw_cfg_io with DMA,
// mc146818rtc, i8042 with ps2-kbd, port92, isa-pcspk, ioport80, COM1, i8257
// x2, isa-fdc (no drives), ioportF0, vmport, the PIIX4 PM's hotplug blocks,
// the in-kernel PIC, IOAPIC, LAPIC and PIT with QEMU's GSI routing, and on
// request a Linux, multiboot or PVH kernel (-kernel, through node-kvm's option ROMs),
// pc-testdev and pci-testdev, and -smp N (application processors in KVM's
// wait-for-SIPI). Not (yet): HPET, SMBus devices, ATAPI, CPU hot-plug,
// QEMU's own ACPI tables (SeaBIOS builds its own).
import type { Writable } from 'stream';
import { AcpiCpuHotplug } from '../devices/acpi-cpu-hotplug';
import { AcpiPciHotplug } from '../devices/acpi-pci-hotplug';
import { Debugcon } from '../devices/debugcon';
import { DebugExit, DEBUG_EXIT_PORT } from '../devices/debug-exit';
import { checkIoPort } from '../devices/device';
import { FwCfgIo } from '../devices/fw-cfg';
import { I8042 } from '../devices/i8042';
import { I8257, I8257_PC } from '../devices/i8257';
import { AtaDisk, qemuDriveSerial } from '../devices/ide/ata-disk';
import { DiskImage } from '../devices/ide/disk-image';
import { IDE_PRIMARY, IDE_SECONDARY, IdeBus } from '../devices/ide/ide-bus';
import { Ioport80 } from '../devices/ioport80';
import { FERR_IRQ, IoportF0 } from '../devices/ioport-f0';
import { kvmIrqLine } from '../devices/irq-line';
import { createPcInKernelIrqchip } from '../devices/kvm-irqchip-pc';
import { FDC_IRQ, IsaFdc } from '../devices/isa-fdc';
import { Mc146818Rtc } from '../devices/mc146818-rtc';
import { kvmPitChannel2, Pcspk } from '../devices/pcspk';
import { Piix3, ISA_NUM_IRQS } from '../devices/piix3';
import { Piix3IdePci } from '../devices/piix3-ide-pci';
import { Piix4Pm, piix4SystemStates } from '../devices/piix4-pm';
import { Port92 } from '../devices/port92';
import { COM1_PORT, Serial16550A } from '../devices/serial-16550a';
import { Vmport } from '../devices/vmport';
import { checkOptions, type OptionKeys } from '../options';
import { SystemWakeup } from './system-wakeup';
import { parseSize } from '../parse-size';
import { SnapshotError, type SnapshotLayout } from '../snapshot/snapshot';
import type { Board, BoardContext, BoardInstance, BoardPlan, FirmwareCpuSetup, SnapshotRebuildOptions } from './board';
import { pcCmosInit, pcCmosInitLate, x86RtcSetCpusCount } from './pc/cmos-init';
import { addPcFwCfgItems, pcFwCfgMachineReset } from './pc/fw-cfg-items';
import { addPcSmbiosFiles } from './pc/smbios';
import { pcE820Entries } from './pc/e820';
import { PcMemoryMap } from './pc/memory-map';
import { pcRamSplit } from './pc/ram-split';
import { cpuidForModel, parseCpuModel } from '../x86/cpu-models';
import { AMD_VENDOR } from '../x86/cpu-features';
import { readFirmware, SEABIOS_PATH } from './pc/firmware';
import type { SerialOptions } from './tiny';
import { checkCpus } from './cpus';

/** The pc machine's default -cpu (x86_cpu_class_init of pc-i440fx-7.2: qemu64). */
const DEFAULT_CPU_MODEL = 'qemu64';
import { prepareKernelBoot } from './pc/kernel-boot';
import { checkPcDevices, plugPcDevices, type PcDeviceOptions } from './pc/test-devices';

/** One IDE drive: a raw image file (QEMU's -drive file=...,format=raw,if=ide). */
export interface PcDiskOptions {
  /** The raw image file. */
  file: string;
  /** ide0-0, ide0-1, ide1-0, ide1-1 as 0-3 (QEMU's index=; default: the next free one). */
  index?: number;
  /** Writes stay in memory; the file is never written (snapshot=on). */
  snapshot?: boolean;
  /** Writes fail (readonly=on). */
  readonly?: boolean;
}

/** The pc board's options of Machine.create({ machine: 'pc', ... }). */
export interface PcBoardOptions {
  /** Guest RAM (QEMU's -m): '128M', bytes as number or bigint (default '128M', QEMU's default). */
  memory?: string | number | bigint;
  /**
   * vCPUs (QEMU's -smp; default 1): the first boots the firmware, the others
   * wait for the guest's INIT/SIPI through the in-kernel LAPIC, as under QEMU.
   */
  cpus?: number;
  /** -smp maxcpus=: the CPUs the machine could have (default cpus; fw_cfg MAX_CPUS and the CPUID topology say it; none is hot-plugged). */
  maxCpus?: number;
  /**
   * QEMU's -cpu: a model (qemu64, the default; kvm64, qemu32, host, max) with
   * +flag/-flag/flag=on|off/prop=value, filtered by what KVM supports as QEMU does.
   */
  cpu?: string;
  /** The firmware image: a file or its bytes (default Debian's SeaBIOS, /usr/share/seabios/bios-256k.bin). */
  bios?: string | Uint8Array;
  /** IDE drives, a file name or its options each (QEMU's -drive if=ide / -hda ...). */
  disks?: readonly (string | PcDiskOptions)[];
  /** COM1 (isa-serial at 0x3f8, IRQ 4), or false for none (QEMU's -serial none). */
  serial?: SerialOptions | false;
  /** An isa-debugcon (default off; SeaBIOS writes its log to port 0x402). */
  debugcon?: { output: Writable | ((byte: number) => void); iobase?: number } | false;
  /** QEMU's isa-debug-exit (default off): a write of v ends the run with exit code (v << 1) | 1. */
  debugExit?: { port?: number } | false;
  /** QEMU's -nographic for the firmware: fw_cfg NOGRAPHIC = 1, so SeaBIOS puts its screen on COM1. */
  nographic?: boolean;
  /** QEMU's -no-reboot: a guest reset ends the run (reason 'reset') instead of rebooting. */
  noReboot?: boolean;
  /** QEMU's -boot order= (default 'cad'). */
  bootOrder?: string;
  /**
   * QEMU's -boot reboot-timeout=: milliseconds SeaBIOS waits after "No
   * bootable device." before it resets the machine to try again; -1 (the
   * default) = never.
   */
  rebootTimeout?: number;
  /** The machine property max-ram-below-4g (QEMU's -M pc,max-ram-below-4g=): default 3.5 GiB. */
  maxRamBelow4g?: string | number | bigint;
  /** Extra fw_cfg files (QEMU's -fw_cfg name=NAME,file=|string=), e.g. `etc/sercon-port`. */
  fwCfg?: readonly { name: string; data: Uint8Array | string }[];
  // kernel-boot: -kernel/-append/-initrd and -device (lib/machines/pc/kernel-boot.ts, test-devices.ts)
  /**
   * QEMU's -kernel: a Linux bzImage, a multiboot v1 kernel (ELF32 or a.out
   * kludge) or a PVH ELF (a vmlinux), which SeaBIOS boots after its POST
   * through node-kvm's option ROM for it (genroms/linuxboot_dma.bin,
   * multiboot.bin, pvh.bin), as under QEMU. A multiboot kernel's name as
   * given starts its command line.
   */
  kernel?: string;
  /** QEMU's -append: the kernel command line (with kernel only). */
  append?: string;
  /** QEMU's -initrd (with kernel only): the initrd file of a Linux or PVH kernel; a multiboot kernel's modules, "a,b args" (QEMU's splitting) or ['a', 'b args']. */
  initrd?: string | readonly string[];
  /** QEMU's -device for test devices: [{ driver: 'pc-testdev' }, { driver: 'pci-testdev' }]. */
  devices?: readonly PcDeviceOptions[];
}

const PC_OPTIONS = {
  memory: true, cpus: true, maxCpus: true, cpu: true, bios: true, disks: true, serial: true, debugcon: true, debugExit: true,
  nographic: true, noReboot: true, bootOrder: true, rebootTimeout: true, maxRamBelow4g: true, fwCfg: true,
  kernel: true, append: true, initrd: true, devices: true,
} as const satisfies OptionKeys<PcBoardOptions>;
const DISK_OPTIONS = { file: true, index: true, snapshot: true, readonly: true } as const satisfies OptionKeys<PcDiskOptions>;
const SERIAL_OPTIONS = { output: true, input: true, port: true } as const satisfies OptionKeys<SerialOptions>;
const DEBUGCON_OPTIONS = { output: true, iobase: true } as const;
const DEBUG_EXIT_OPTIONS = { port: true } as const;

/** QEMU's default -m (hw/i386/pc.c: 128 MiB). */
const DEFAULT_MEMORY = 128n << 20n;
const MAX_IDE_DRIVES = 4;
/** ISA IRQs of the pc's ISA devices (hw/i386/pc.c, hw/ide/piix.c, hw/acpi/piix4.c). */
const IRQ = { kbd: 1, com1: 4, rtc: 8, sci: 9, mouse: 12 } as const;
/** Where KVM's TSS pages go (QEMU's kvm_arch_init: just below the BIOS, 0xfeffd000). */
const TSS_ADDR = 0xfeffd000;
/** The x86 reset vector: where the vCPU starts (CS base 0xffff0000, IP 0xfff0). */
export const RESET_VECTOR = 0xfffffff0n;

interface PcDrive { file: string; snapshot: boolean; readonly: boolean }

/** The drives at their indexes (QEMU's drive_new: index= or the next free one). */
function placeDrives(disks: unknown): (PcDrive | null)[] {
  if (disks === undefined) return [];
  if (!Array.isArray(disks)) throw new TypeError('disks must be an array of image files or { file, index, snapshot, readonly }');
  const slots: (PcDrive | null)[] = new Array(MAX_IDE_DRIVES).fill(null);
  for (const [i, d] of disks.entries()) {
    const o = typeof d === 'string' ? { file: d } : checkOptions(d as PcDiskOptions, DISK_OPTIONS, `Machine.create({ disks[${i}] })`);
    if (typeof o.file !== 'string' || o.file === '') throw new TypeError(`disks[${i}].file must name a raw image file`);
    for (const k of ['snapshot', 'readonly'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`disks[${i}].${k} must be a boolean`);
    }
    let index = o.index ?? slots.indexOf(null);
    if (index === -1) throw new RangeError(`too many IDE drives: the pc machine has ${MAX_IDE_DRIVES} (ide0-0 to ide1-1)`);
    if (!Number.isInteger(index) || index < 0 || index >= MAX_IDE_DRIVES) {
      throw new RangeError(`disks[${i}].index must be 0-${MAX_IDE_DRIVES - 1} (ide0-0, ide0-1, ide1-0, ide1-1), got ${String(o.index)}`);
    }
    index = Number(index);
    if (slots[index] !== null) throw new RangeError(`drive with bus=${index >> 1}, unit=${index & 1} (index=${index}) exists`);
    slots[index] = { file: o.file, snapshot: o.snapshot ?? false, readonly: o.readonly ?? false };
  }
  while (slots.length > 0 && slots[slots.length - 1] === null) slots.pop();
  return slots;
}

/** -fw_cfg files: a name and bytes (a string is its UTF-8 bytes, as QEMU's string=). */
function checkFwCfgFiles(files: unknown): { name: string; data: Uint8Array }[] {
  if (files === undefined) return [];
  if (!Array.isArray(files)) throw new TypeError('fwCfg must be an array of { name, data }');
  return files.map((f: { name?: unknown; data?: unknown }, i) => {
    if (typeof f?.name !== 'string' || f.name === '') throw new TypeError(`fwCfg[${i}].name must be a non-empty string (e.g. 'opt/org.example/file')`);
    if (typeof f.data === 'string') return { name: f.name, data: new TextEncoder().encode(f.data) };
    if (!(f.data instanceof Uint8Array)) throw new TypeError(`fwCfg[${i}].data must be a Uint8Array or a string`);
    return { name: f.name, data: f.data };
  });
}

/** The vCPU starts in the firmware, at the reset vector. */
const FIRMWARE_CPU: FirmwareCpuSetup = { kind: 'firmware', mode: 'real', loadAddress: RESET_VECTOR };

function validate(options: object): BoardPlan {
  const opts = options as PcBoardOptions;
  const memorySize = opts.memory === undefined ? DEFAULT_MEMORY : parseSize(opts.memory, 'memory');
  if (memorySize === 0n || memorySize % 4096n !== 0n) throw new RangeError(`memory must be a positive multiple of 4 KiB, got ${String(opts.memory)}`);
  const cpus = checkCpus(opts.cpus);
  const maxCpus = opts.maxCpus === undefined ? cpus : checkCpus(opts.maxCpus);
  if (maxCpus < cpus) throw new RangeError(`maxCpus (${maxCpus}) must be at least cpus (${cpus})`);
  // QEMU 7.2's -smp N,maxcpus=M topology: one socket of M cores (machine-smp.c prefers cores), APIC IDs 0 to M-1.
  const topology = { cpuCount: maxCpus, cores: maxCpus };
  if (opts.cpu !== undefined && typeof opts.cpu !== 'string') throw new TypeError("cpu must be a QEMU -cpu string such as 'qemu64' or 'qemu64,+x2apic'");
  const cpuModel = parseCpuModel(opts.cpu ?? DEFAULT_CPU_MODEL);
  const drives = placeDrives(opts.disks);
  const serialOpts = opts.serial === false ? null : checkOptions(opts.serial, SERIAL_OPTIONS, 'Machine.create({ serial })');
  const serialPort = checkIoPort(serialOpts?.port ?? COM1_PORT, 'serial.port');
  const conOpts = opts.debugcon === undefined || opts.debugcon === false ? null : checkOptions(opts.debugcon, DEBUGCON_OPTIONS, 'Machine.create({ debugcon })');
  const exitOpts = opts.debugExit === undefined || opts.debugExit === false ? null : checkOptions(opts.debugExit, DEBUG_EXIT_OPTIONS, 'Machine.create({ debugExit })');
  const exitPort = exitOpts === null ? null : checkIoPort(exitOpts.port ?? DEBUG_EXIT_PORT, 'debugExit.port');
  for (const k of ['nographic', 'noReboot'] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new TypeError(`${k} must be a boolean`);
  }
  const bootOrder = opts.bootOrder ?? 'cad';
  const maxRamBelow4g = opts.maxRamBelow4g === undefined ? undefined : parseSize(opts.maxRamBelow4g, 'maxRamBelow4g');
  const fwCfgFiles = checkFwCfgFiles(opts.fwCfg);
  // kernel-boot: the -device list, and the kernel and its modules read now (nothing stays open)
  const extraDevices = checkPcDevices(opts.devices);
  if (opts.kernel === undefined && (opts.append !== undefined || opts.initrd !== undefined)) {
    throw new TypeError(`${opts.append !== undefined ? 'append' : 'initrd'} is only valid with kernel (QEMU: -append and -initrd only allowed with -kernel option)`);
  }
  // (the RAM below 4 GiB does not depend on the CPU's phys-bits, which create() checks)
  const below4g = pcRamSplit(memorySize, { physBits: 52, maxRamBelow4g }).below4g;
  const kernelBoot = opts.kernel === undefined ? null : prepareKernelBoot({ kernel: opts.kernel, append: opts.append, initrd: opts.initrd }, memorySize, below4g);
  // Read last: the checks above open nothing.
  const bios = readFirmware(opts.bios ?? SEABIOS_PATH);

  return {
    cpus,
    create(ctx: BoardContext): BoardInstance {
      const { vm } = ctx;
      const supported = ctx.kvm.supportedCpuid();
      // The model as the memory map needs it (its physical address bits; no vCPU yet, so no TSC frequency).
      const modelAtBoot = cpuidForModel(supported, cpuModel, { apicId: 0, ...topology, tscKhz: 0 });
      const cpuAtBoot = modelAtBoot.cpu;
      // pc_memory_init: only an AMD vCPU moves RAM above the HyperTransport range, and advertises the range when it has 40 address bits
      const amd = cpuAtBoot.vendor === AMD_VENDOR;
      const amdHyperTransportHole = amd && cpuAtBoot.physBits >= 40;
      // The in-kernel PIC, IOAPIC and PIT come before any vCPU (kvm_irqchip_create),
      // with QEMU's GSI routing and its kvm-ioapic / kvm-apic-msi / kvm-pic / kvm-pit regions.
      const irqchip = createPcInKernelIrqchip(vm);
      if (irqchip === null) throw new RangeError('the pc machine needs the in-kernel IRQ chip (KVM_CAP_IRQCHIP), which this KVM does not offer');
      ctx.plug(irqchip);
      if (vm.checkExtension('SET_TSS_ADDR')) vm.setTssAddr(TSS_ADDR);
      const gsi = Array.from({ length: ISA_NUM_IRQS }, (_, i) => kvmIrqLine(vm, i));

      const map = new PcMemoryMap({ ramSize: memorySize, bios, physBits: cpuAtBoot.physBits, amdCpu: amd, maxRamBelow4g, roots: { system: ctx.system, io: ctx.io, memory: ctx.memory, ioSpace: ctx.ioSpace } });
      const split = map.split; // (it refuses RAM the CPU cannot address)
      for (const mr of map.regions) ctx.own(mr);
      ctx.plug(map.pciHost);
      ctx.plug(map.i440fx);
      const reset = (kind: string) => ctx.requestStop({ reason: 'reset', message: `the guest reset the machine (${kind})` });
      // The CPU's A20 input, driven by port 0x92 and the i8042 (x86_cpu_set_a20; KVM itself never masks A20).
      let a20 = true;
      const setA20 = (on: boolean) => { a20 = on; };

      // PIIX3 function 0 and what sits on its ISA bus (pc_init1, pc_basic_device_init).
      ctx.plug(new Piix3({ bus: map.pciBus, isaIrqs: gsi, onResetRequest: (kind) => reset(`PIIX3 reset control, ${kind} reset`) }));
      // S3 and its wake-up sources (QEMU's qemu_system_suspend/wakeup): the RTC alarm while PM1 RTC_EN is set.
      const wakeup = new SystemWakeup((reason) => pm.acpi.wakeupEnabled(reason));
      ctx.plug({ name: 'system-wakeup', mappings: [], close: () => wakeup.close() });
      const rtc = ctx.plug(new Mc146818Rtc({ irq: gsi[IRQ.rtc], onAlarm: () => wakeup.request('rtc') }));
      ctx.plug(new Pcspk({ pit: kvmPitChannel2(vm) }));
      ctx.plug(new I8042({ kbdIrq: gsi[IRQ.kbd], mouseIrq: gsi[IRQ.mouse], onResetRequest: () => reset('i8042 pulse reset'), onA20: setA20 }));
      ctx.plug(new Port92({ onResetRequest: () => reset('port 0x92 fast reset'), onA20: setA20 }));
      ctx.plug(new Ioport80());
      const serial = serialOpts === null ? null : ctx.plug(new Serial16550A({
        output: serialOpts.output === undefined ? process.stdout : serialOpts.output,
        input: serialOpts.input ?? null,
        irq: gsi[IRQ.com1],
        iobase: serialPort,
      }));

      // piix3-ide (00:01.1): two channels in ISA-compatible mode and the BMDMA BAR.
      const images: DiskImage[] = [];
      const disks = drives.map((d, i) => {
        if (d === null) return null;
        const image = new DiskImage(d.file, { snapshot: d.snapshot, readonly: d.readonly });
        images.push(image);
        return new AtaDisk(image, { serial: qemuDriveSerial(i + 1) });
      });
      ctx.plug({ name: 'ide-drives', mappings: [], close: () => { for (const im of images) im.close(); } });
      const bmdma = ctx.plug(new Piix3IdePci(map.pciBus, undefined, { bmdma: true })).bmdma!;
      ctx.plug(new IdeBus({ ...IDE_PRIMARY, irq: gsi[IDE_PRIMARY.irq], drives: disks.slice(0, 2), dma: bmdma.channels[0] }));
      ctx.plug(new IdeBus({ ...IDE_SECONDARY, irq: gsi[IDE_SECONDARY.irq], drives: disks.slice(2, 4), dma: bmdma.channels[1] }));

      // PIIX4_PM (00:01.3): SCI on IRQ 9; S5 (and S4) power the machine off, S3 suspends it.
      const pm = ctx.plug(new Piix4Pm({
        bus: map.pciBus, sci: gsi[IRQ.sci], isa: { com1: serial !== null },
        onSleep: (state) => {
          if (state !== 'S3') {
            ctx.requestStop({ reason: 'poweroff', message: `the guest entered ${state} (ACPI sleep)` });
            return;
          }
          rtc.setCmos(0x0f, 0xfe); // rtc_notify_suspend: the shutdown status byte SeaBIOS resumes on (src/resume.c)
          wakeup.suspend();
          ctx.requestStop({ reason: 'suspend', message: 'the guest suspended the machine to RAM (ACPI S3)' });
        },
      }));

      // ISA and ACPI devices without a guest-visible job here
      ctx.plug(new IoportF0(gsi[FERR_IRQ]));
      ctx.plug(new I8257(I8257_PC[0]));
      ctx.plug(new I8257(I8257_PC[1]));
      ctx.plug(new IsaFdc({ irq: gsi[FDC_IRQ] }));
      ctx.plug(new Vmport({ ramSize: memorySize }));
      ctx.plug(new AcpiPciHotplug(map.pciBus));
      ctx.plug(new AcpiCpuHotplug(cpus));

      // fw_cfg (pc_memory_init: fw_cfg_arch_create) and the CMOS bytes (pc_cmos_init).
      const fwcfg = ctx.plug(new FwCfgIo({ dmaAddressSpace: ctx.memory }));
      addPcFwCfgItems(fwcfg, {
        ramSize: memorySize, ramSplit: split, bootCpus: cpus, apicIdLimit: maxCpus, nographic: opts.nographic ?? false, rebootTimeout: opts.rebootTimeout, amdHyperTransportHole,
      });
      fwcfg.addFile('etc/system-states', piix4SystemStates());
      for (const f of fwCfgFiles) fwcfg.addFile(f.name, f.data);
      pcCmosInit(rtc, { ramSplit: split, bootOrder });
      x86RtcSetCpusCount(rtc, cpus);

      // kernel-boot: the test devices, and what -kernel adds to fw_cfg
      plugPcDevices(ctx, extraDevices, map.pciBus, gsi);
      kernelBoot?.addFwCfgItems(fwcfg);
      // machine done: fw_cfg_build_smbios (QEMU 7.2's -smp N is one socket of N cores)
      const leaf1 = modelAtBoot.entries.find((e) => e.function === 1);
      addPcSmbiosFiles(fwcfg, {
        ramSize: memorySize, e820: pcE820Entries({ ...split, amdHyperTransportHole }), smp: { sockets: 1, cores: cpus, threads: 1 },
        cpuidVersion: leaf1?.eax ?? 0, cpuidFeatures: leaf1?.edx ?? 0,
      });

      if (conOpts !== null) ctx.plug(new Debugcon({ output: conOpts.output, iobase: conOpts.iobase ?? 0x402 }));
      const debugExit = exitPort === null ? null : ctx.plug(new DebugExit({
        onExit: (code) => ctx.requestStop({ reason: 'debugExit', exitCode: code }),
        iobase: exitPort,
      }));

      /** pc_machine_reset's extra steps after the devices' reset (QEMU: qemu_system_reset). */
      const afterReset = (first: boolean) => {
        a20 = true; // the CPU's reset state
        if (first) pcCmosInitLate(rtc, { ide: disks.map((d) => d?.geometry ?? null) });
        pcFwCfgMachineReset(fwcfg, kernelBoot?.bootDevicePaths);
      };
      afterReset(true);

      return {
        ram: map.ram, ramList: map.ramList, cpuAddressSpaces: true, pciBus: map.pciBus, a20: () => a20,
        cpuid: (vcpu) => {
          // x86_cpu_realizefn: the table of this vCPU's APIC ID; QEMU's warnings for what KVM filtered.
          const model = cpuidForModel(supported, cpuModel, {
            apicId: vcpu.id, ...topology, tscKhz: vcpu.getTscKhz(),
          });
          return { entries: model.entries, warnings: [...cpuModel.warnings, ...model.warnings] };
        }, memorySize, cpu: FIRMWARE_CPU, serial, debugExit, irqchip,
        systemReset: { noReboot: opts.noReboot ?? false, afterReset: () => afterReset(false) },
        suspend: { waitForWakeup: (ms, signal) => wakeup.wait(ms, signal), afterWakeup: (reason) => pm.acpi.notifyWakeup(reason) },
        snapshotKey: {
          machine: PC.name, memory: memorySize, mode: 'real', irqchip: true,
          serialPort: serial ? serialPort : null, debugExitPort: debugExit ? exitPort : null,
        },
      };
    },
  };
}

/** A pc snapshot file cannot name its firmware and disk images: rebuilding one is not supported yet. */
function optionsFromSnapshot(_l: SnapshotLayout, file: string, _given: SnapshotRebuildOptions): PcBoardOptions {
  throw new SnapshotError('layout', `snapshot file ${file} is of a pc machine: restore it into a running pc machine of the same command line with machine.restore(Snapshot.read(file))`);
}

export const PC: Board = {
  name: 'pc',
  description: 'Standard PC (i440FX + PIIX, 1996), QEMU 7.2\'s pc-i440fx-7.2: boots SeaBIOS, IDE disks, COM1, fw_cfg, in-kernel PIC/IOAPIC/LAPIC/PIT',
  optionKeys: PC_OPTIONS,
  validate,
  optionsFromSnapshot,
};
