// What node-kvm-qemu prints for -h, -version, -machine help, -cpu help and
// -accel help, in QEMU 7.2's formats (softmmu/vl.c help(), version();
// hw/core/machine-qmp-cmds.c; target/i386/cpu.c x86_cpu_list). The first
// line is what kvm-unit-tests' runner reads the version from
// (scripts/arch-run.bash: `$qemu -h | head -1`, words 4-6 split on ' ' and '.').
import { PC_MACHINE } from './machine-props';

/** The QEMU version whose behaviour node-kvm-qemu follows. */
export const QEMU_VERSION = '7.2.0';

export function versionText(nodeKvmVersion: string): string {
  return `QEMU emulator version ${QEMU_VERSION} (node-kvm ${nodeKvmVersion})\n`
    + 'node-kvm: the QEMU command line for its pc machine on KVM; not QEMU itself\n';
}

/** [synopsis, description] of every option node-kvm-qemu takes, by QEMU's help sections. */
const SECTIONS: [string, [string, string][]][] = [
  ['Standard options', [
    ['-h or -help', 'display this help and exit'],
    ['-version', 'display version information and exit'],
    ['-machine [type=]name[,prop[=value][,...]]', "the machine: pc (alias of pc-i440fx-7.2); '-machine help' lists it; accel=kvm, hpet=on|off, max-ram-below-4g=size, ..."],
    ['-cpu cpu', "the CPU model and its features ('-cpu help' for the list)"],
    ['-accel [accel=]accelerator[,prop[=value][,...]]', 'the accelerator: kvm (the only one)'],
    ['-smp [[cpus=]n][,maxcpus=maxcpus][,sockets=sockets][,dies=dies][,cores=cores][,threads=threads]', 'the CPUs and their topology [default=1]'],
    ['-boot [order=drives][,once=drives][,menu=on|off]', "boot order: 'a'-'p' device letters"],
    ['-m [size=]megs[,slots=n,maxmem=size]', 'guest RAM: a bare number is MiB, or use a K, M, G or T suffix [default=128M]'],
    ['-k language', 'keyboard layout'],
  ]],
  ['Block device options', [
    ['-drive file=file[,format=raw][,if=ide][,index=i][,bus=n][,unit=m][,media=disk|cdrom][,snapshot=on|off][,readonly=on|off]', 'a raw disk image on the IDE controller'],
    ['-hda/-hdb file', 'IDE hard disk 0/1 image'],
    ['-hdc/-hdd file', 'IDE hard disk 2/3 image'],
    ['-snapshot', 'write to temporary files instead of disk image files'],
    ['-fw_cfg [name=]<name>,file=<file>', 'add a named fw_cfg entry with contents from a file'],
    ['-fw_cfg [name=]<name>,string=<str>', 'add a named fw_cfg entry with contents from a string'],
  ]],
  ['Display options', [
    ['-display none', 'no display (node-kvm has no other)'],
    ['-nographic', 'no display; the serial port and the monitor on stdio'],
    ['-vga [std|none]', 'the VGA card'],
  ]],
  ['Linux/Multiboot boot specific', [
    ['-kernel bzImage', "use 'bzImage' as kernel image"],
    ['-append cmdline', "use 'cmdline' as kernel command line"],
    ['-initrd file', "use 'file' as initial ram disk"],
  ]],
  ['Character device options', [
    ['-chardev stdio|file|null,id=id[,path=path][,mux=on|off]', 'a character device'],
  ]],
  ['Debug/Expert options', [
    ['-serial dev', "redirect the serial port to char device 'dev' (stdio, file:path, null, none, mon:stdio, chardev:id)"],
    ['-monitor dev', "redirect the monitor to char device 'dev'"],
    ['-qmp dev', 'like -monitor but opens in \'control\' mode'],
    ['-device driver[,prop[=value][,...]]', "add a device ('-device help' for the list)"],
    ['-global driver.prop=value', 'set a default value of a driver\'s property'],
    ['-nodefaults', 'do not create default devices'],
    ['-name string', 'set the name of the guest'],
    ['-rtc [base=utc|localtime]', 'set the RTC base'],
    ['-no-acpi', 'disable ACPI'],
    ['-no-reboot', 'exit instead of rebooting'],
    ['-no-shutdown', 'stop before shutdown'],
    ['-S', 'freeze CPU at startup (use \'c\' to start execution)'],
    ['-gdb dev', "accept a gdb connection on 'dev'"],
    ['-s', 'shorthand for -gdb tcp::1234'],
    ['-d item1,...', 'enable logging of specified items'],
    ['-D logfile', "output log to logfile (default stderr)"],
    ['-L path', 'set the directory for the BIOS, VGA BIOS and keymaps'],
    ['-bios file', "set the filename for the BIOS"],
    ['-enable-kvm', 'enable KVM full virtualization support'],
    ['-trace [[enable=]<pattern>][,file=<file>]', 'specify tracing options'],
  ]],
];

/** -h: QEMU's layout (a synopsis longer than 15 columns puts its description on the next line, at column 16). */
export function helpText(progName: string, nodeKvmVersion: string): string {
  let out = `${versionText(nodeKvmVersion)}usage: ${progName} [options] [disk_image]\n\n`
    + "'disk_image' is a raw hard disk image for IDE hard disk 0\n";
  for (const [title, options] of SECTIONS) {
    out += `\n${title}:\n`;
    for (const [synopsis, description] of options) {
      out += synopsis.length < 16 ? `${synopsis.padEnd(16)}${description}\n` : `${synopsis}\n${' '.repeat(16)}${description}\n`;
    }
  }
  return `${out}\nWhen using -nographic, press 'ctrl-a x' to exit.\n`;
}

/** `-machine help` (machine_help_func): the types node-kvm has. */
export function machineHelpText(): string {
  const desc = 'Standard PC (i440FX + PIIX, 1996)';
  return 'Supported machines are:\n'
    + `${'microvm'.padEnd(20)} microvm (i386)\n`
    + `${'pc'.padEnd(20)} ${desc} (alias of ${PC_MACHINE})\n`
    + `${PC_MACHINE.padEnd(20)} ${desc} (default)\n`;
}

/** A CPU model as `-cpu help` lists it. */
export interface CpuModelListing {
  name: string;
  description: string;
}

/** QEMU 7.2's lines for the models node-kvm has, in its order (versioned names after their alias; host and max last). */
export const CPU_MODELS: CpuModelListing[] = [
  { name: 'kvm64', description: '(alias configured by machine type)' },
  { name: 'kvm64-v1', description: 'Common KVM processor' },
  { name: 'qemu32', description: '(alias configured by machine type)' },
  { name: 'qemu32-v1', description: 'QEMU Virtual CPU version 2.5+' },
  { name: 'qemu64', description: '(alias configured by machine type)' },
  { name: 'qemu64-v1', description: 'QEMU Virtual CPU version 2.5+' },
  { name: 'host', description: 'processor with all supported host features ' },
  { name: 'max', description: 'Enables all features supported by the accelerator in the current host' },
];

/** `-cpu help`: the model list (QEMU then lists the CPUID flag names; the CPU-model code can pass none here). */
export function cpuHelpText(models: CpuModelListing[] = CPU_MODELS): string {
  return `Available CPUs:\n${models.map((m) => `x86 ${m.name.padEnd(20)}  ${m.description}\n`).join('')}`;
}

/** `-accel help`. */
export function accelHelpText(): string {
  return 'Accelerators supported in QEMU binary:\nkvm\n';
}
