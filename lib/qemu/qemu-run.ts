// From a parsed QEMU command line (cmdline.ts) to the launch (launch.ts):
// what each option means for node-kvm's pc machine, the options node-kvm
// cannot honour (refused with QEMU-style messages and status 1, or warned
// about), and the errors of building the machine printed as QEMU prints them.
import * as fs from 'fs';
import type { Writable } from 'stream';
import { DiskImageError } from '../devices/ide/disk-image';
import { GuestMemoryLimitError } from '../host-limits';
import { FirmwareError } from '../machines/pc/firmware';
import { KernelImageError } from '../machines/pc/kernel-image-error';
import type { QemuChardevBackend, QemuCommand, QemuDrive, QemuSerialTarget } from './command';
import { parseGdbDevice } from './gdb-options';
import { launch, type FrontEndSpec, type LaunchConfig, type LaunchIo } from './launch';
import { QemuOptionError } from './qemu-error';
import { parseCInteger } from './qemu-opts';
import { selectsSlotTrace } from '../kvm/slot-trace';

/** -global properties node-kvm honours by having nothing to change: its pc machine already behaves so. */
const HONOURED_GLOBALS = new Set([
  'kvm-apic.vapic=false', // no vapic option ROM: node-kvm has none
  'kvm-pit.lost_tick_policy=discard', // the in-kernel PIT's policy (KVM_PIT_FLAGS: lost ticks are not reinjected by userspace)
]);

function prop(props: readonly (readonly [string, string])[], key: string): string | undefined {
  for (let i = props.length - 1; i >= 0; i--) if (props[i][0] === key) return props[i][1];
  return undefined;
}

/** An integer device property (isa-debugcon's iobase=), in QEMU's C syntax; the parser checked it is one. */
function intProp(text: string): number {
  return Number(parseCInteger(text, false));
}

/** What node-kvm cannot do yet, in QEMU's "location: text" form. */
function unsupported(location: string | null, what: string): QemuOptionError {
  return new QemuOptionError(`${what} is not supported by node-kvm`, location);
}

function backendSpec(b: QemuChardevBackend): FrontEndSpec {
  switch (b.kind) {
    case 'stdio': return b.mux ? { kind: 'mux' } : { kind: 'stdio' };
    case 'file': return { kind: 'file', path: b.path };
    case 'null': case 'vc': return { kind: 'null' }; // a vc is a console node-kvm never shows (QEMU's -display none)
  }
}

/** Builds the launch configuration; throws QemuOptionError for what node-kvm cannot honour. */
export function launchConfigOf(cmd: QemuCommand, progName: string, warn: (line: string) => void): LaunchConfig {
  const chardev = (id: string, location: string): FrontEndSpec => {
    const c = cmd.chardevs.find((x) => x.id === id);
    if (!c) throw new QemuOptionError(`Property 'chardev' can't find value '${id}'`, location);
    return backendSpec(c.backend);
  };
  const target = (t: QemuSerialTarget, location: string): FrontEndSpec =>
    t.kind === 'mon:stdio' ? { kind: 'mux' } : t.kind === 'chardev' ? chardev(t.id, location) : backendSpec(t.backend);

  // The pc board's topology is one socket of maxcpus cores (QEMU's default for -smp N[,maxcpus=M]).
  const { sockets, dies, threads } = cmd.smp;
  if (sockets !== 1 || dies !== 1 || threads !== 1) throw unsupported('-smp', 'a topology of more than one socket, die or thread per core');
  if (cmd.fwCfg.some((f) => 'genId' in f)) throw unsupported('-fw_cfg', 'gen_id=');

  // COM1: the first serial port; an isa-serial device is one too.
  const serials: FrontEndSpec[] = cmd.serials.map((s) => target(s, '-serial'));
  for (const d of cmd.devices.filter((x) => x.driver === 'isa-serial')) {
    const id = prop(d.props, 'chardev');
    serials.push(id === undefined ? { kind: 'null' } : chardev(id, d.location));
  }
  if (serials.length > 1) throw unsupported('-serial', 'more than one serial port (COM1 only)');

  let debugcon: LaunchConfig['debugcon'] = null;
  let debugExit: LaunchConfig['debugExit'] = null;
  const testDevices: { driver: 'pc-testdev' | 'pci-testdev' }[] = [];
  for (const d of cmd.devices) {
    if (d.driver === 'isa-debugcon') {
      if (debugcon !== null) throw unsupported(d.location, 'a second isa-debugcon');
      const id = prop(d.props, 'chardev');
      if (id === undefined) throw new QemuOptionError("Property 'isa-debugcon.chardev' can't take value ''", d.location);
      debugcon = { iobase: intProp(prop(d.props, 'iobase') ?? '0xe9'), chardev: chardev(id, d.location) };
    } else if (d.driver === 'isa-debug-exit') {
      if (debugExit !== null) throw unsupported(d.location, 'a second isa-debug-exit');
      debugExit = { iobase: intProp(prop(d.props, 'iobase') ?? '0x501') };
    } else if (d.driver === 'pc-testdev' || d.driver === 'pci-testdev') {
      testDevices.push({ driver: d.driver });
    }
  }

  const machine = cmd.machine.type === 'microvm' ? 'microvm' : 'pc';
  if (machine === 'microvm') checkMicrovm(cmd, testDevices.length > 0);

  // The HMP monitor (QMP is accepted and has no server: nothing a guest sees depends on it).
  const hmp = cmd.monitors.filter((m) => m.mode === 'readline');
  let monitor: FrontEndSpec | null = null;
  if (serials[0]?.kind === 'mux') monitor = { kind: 'mux' };
  for (const m of hmp) {
    if (m.device === 'stdio') monitor = serials[0]?.kind === 'stdio' ? { kind: 'mux' } : { kind: 'stdio' };
    else if (m.device.startsWith('chardev:')) monitor = chardev(m.device.slice('chardev:'.length), '-monitor');
    else if (m.device.startsWith('file:')) monitor = { kind: 'file', path: m.device.slice('file:'.length) };
  }

  for (const g of cmd.globals) {
    const text = `${g.driver}.${g.property}=${g.value}`;
    if (!HONOURED_GLOBALS.has(text)) warn(`warning: -global ${text}: node-kvm's pc machine has no such property; ignored`);
  }
  for (const d of cmd.drives) checkDrive(d, warn);

  const patterns = cmd.trace.patterns;
  const bootOrder = prop(cmd.boot, 'order');
  const rebootTimeout = prop(cmd.boot, 'reboot-timeout');
  const maxRamBelow4g = cmd.machine.maxRamBelow4g;
  return {
    progName,
    machine,
    memory: cmd.memory.size,
    cpus: cmd.smp.cpus,
    maxCpus: cmd.smp.maxCpus,
    cpu: cmd.cpu.text,
    bios: cmd.bios ?? undefined,
    disks: cmd.drives.map((d) => ({ file: d.file, index: d.index, snapshot: d.snapshot, readonly: d.readOnly })),
    nographic: cmd.nographic,
    noReboot: cmd.noReboot,
    noShutdown: cmd.noShutdown,
    bootOrder,
    rebootTimeout: rebootTimeout === undefined ? undefined : Number(rebootTimeout),
    maxRamBelow4g: maxRamBelow4g ?? undefined,
    fwCfg: cmd.fwCfg.map((f) => ('file' in f ? { name: f.name, data: readFwCfgFile(f.file) } : { name: f.name, data: (f as { string: string }).string })),
    serial: serials[0] ?? null,
    debugcon,
    debugExit,
    startStopped: cmd.startStopped,
    gdb: cmd.gdb === null ? null : parseGdbDevice(cmd.gdb),
    traceSlotsFile: patterns.some(selectsSlotTrace) ? cmd.trace.file : undefined,
    monitor,
    kernel: cmd.kernel ?? undefined,
    append: cmd.append ?? undefined,
    initrd: cmd.initrd ?? undefined,
    devices: testDevices,
  };
}

/** What the microvm machine lacks, refused as QEMU's microvm refuses it (no IDE, no PCI bus) or as not supported. */
function checkMicrovm(cmd: QemuCommand, testDevices: boolean): void {
  if (cmd.drives.length > 0) throw unsupported(cmd.drives[0].location, 'an IDE drive on the microvm machine (it has no IDE controller; QEMU\'s leaves such a drive unattached)');
  if (testDevices) throw unsupported('-device', 'pc-testdev and pci-testdev on the microvm machine');
  if (cmd.bios !== null) throw unsupported('-bios', 'firmware on the microvm machine (node-kvm boots the kernel without firmware)');
}

function checkDrive(d: QemuDrive, warn: (line: string) => void): void {
  if (d.media === 'cdrom') throw unsupported(d.location, 'media=cdrom (ATAPI)');
  if (d.format === null) {
    // block.c bdrv_open_inherit: a probed raw image
    warn(`WARNING: Image format was not specified for '${d.file}' and probing guessed raw.\n` +
      '         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.\n' +
      "         Specify the 'raw' format explicitly to remove the restrictions.");
  }
}

function readFwCfgFile(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new QemuOptionError(`can't load ${file}, errno ${(e as NodeJS.ErrnoException).errno === undefined ? '' : -(e as NodeJS.ErrnoException).errno!}`, '-fw_cfg');
  }
}

/**
 * Runs the command: QEMU-style messages on `io.stderr` for what fails to
 * build (status 1), QEMU's warnings first; otherwise the launch's status.
 */
export async function runQemuCommand(cmd: QemuCommand, progName: string, io: LaunchIo & { stderr: Writable }): Promise<number> {
  const warn = (line: string) => io.stderr.write(line.startsWith('WARNING') ? `${line}\n` : `${progName}: ${line}\n`);
  const cfg = launchConfigOf(cmd, progName, warn);
  try {
    return await launch(cfg, io, { onWarning: (w) => warn(`warning: ${w}`) });
  } catch (err) {
    if (err instanceof DiskImageError) {
      const drive = cmd.drives.find((d) => err.message.includes(`'${d.file}'`));
      if (drive) throw new QemuOptionError(err.message, drive.location);
    }
    if (err instanceof FirmwareError) {
      io.stderr.write(`qemu: could not load PC BIOS '${err.file}'\n${progName}: ${err.reason}; ${err.advice}\n`);
      return 1;
    }
    if (err instanceof KernelImageError) {
      io.stderr.write(err.qemuText === undefined ? `${progName}: ${err.message}\n` : `${err.qemuText}\n`);
      return 1;
    }
    if (err instanceof GuestMemoryLimitError) {
      io.stderr.write(`${progName}: cannot set up guest memory 'pc.ram': Cannot allocate memory\n${progName}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof Error && (err.name === 'RangeError' || err.name === 'TypeError' || err.name === 'CpuModelError' || err.name === 'KvmError' || err.message.startsWith('Could not open'))) {
      io.stderr.write(`${progName}: ${(err as { qemuMessage?: string }).qemuMessage ?? err.message}\n`);
      return 1;
    }
    throw err;
  }
}
