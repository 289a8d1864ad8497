// What a node-kvm-qemu command line asks for, once parsed and with QEMU
// 7.2's defaults applied: the input of the part that builds and runs the
// machine. Values keep QEMU's meaning; sizes and addresses are bigint.
import type { QemuWarning } from './qemu-error';
import type { OptPair } from './qemu-opts';
import type { QemuSmp } from './smp';

export type { QemuSmp } from './smp';
export type { OptPair } from './qemu-opts';

/** -machine: the type (QEMU's resolved name) and its properties. */
export interface QemuMachine {
  /** The machine type: 'pc' is QEMU 7.2's alias of pc-i440fx-7.2; 'microvm' boots a kernel without firmware (lib/machines/microvm.ts). */
  type: 'pc-i440fx-7.2' | 'microvm';
  /** hpet=on|off (default on). */
  hpet: boolean;
  /** max-ram-below-4g=SIZE, or null for the board's rule (QEMU's default 0: 3.5 GiB for pc). */
  maxRamBelow4g: bigint | null;
  /**
   * Every machine property given (-machine PROP=VALUE and the options QEMU
   * turns into properties: -kernel, -append, -initrd, -bios), as written,
   * in the order QEMU applies them; checked to be pc-i440fx-7.2 properties
   * with values of their type; members of boot and sgx-epc as 'boot.order'.
   * Without memory, smp, type, accel and the accelerator's kernel-irqchip
   * and kvm-shadow-mem (see the fields of QemuCommand).
   */
  props: OptPair[];
}

/** -m: the machine's memory (MemorySizeConfiguration). */
export interface QemuMemory {
  /** RAM at start, rounded up to 8 KiB as QEMU does; 128 MiB when -m is absent or 0. */
  size: bigint;
  /** maxmem= (memory hot-plug limit), or null: then equal to size. */
  maxSize: bigint | null;
  /** slots= (hot-plug DIMM slots), 0 when absent. */
  slots: number;
}

/** One -cpu setting after the model name, in order. */
export interface QemuCpuSetting {
  /** The feature or property name, e.g. 'x2apic', 'vendor', 'phys-bits'. */
  name: string;
  /** 'on'/'off' for +flag/-flag and flag=on|off; the text otherwise (vendor=GenuineIntel). */
  value: string;
  /** How it was written: '+x2apic' and '-pcid' are the legacy form, 'x2apic=on' the property form. */
  form: 'plus' | 'minus' | 'property';
}

/** -cpu MODEL[,settings] (checked by the CPU-model code, not here). */
export interface QemuCpu {
  /** The model name ('qemu64', QEMU's default for pc, when -cpu is absent). */
  model: string;
  /** The option's whole text, as written ('qemu64' when absent). */
  text: string;
  settings: QemuCpuSetting[];
}

/** A disk on the pc machine's IDE controller (-drive if=ide, -hda..-hdd, a bare image name). */
export interface QemuDrive {
  /** The option as QEMU names it in messages: '-drive file=disk.img,format=raw', '-hda disk.img', 'disk.img'. */
  location: string;
  file: string;
  /** 'raw', or null when not given (QEMU then probes the image, and warns when it guesses raw). */
  format: 'raw' | null;
  /** IDE bus (0: primary, 1: secondary) and unit (0: master, 1: slave); index = bus * 2 + unit. */
  bus: number;
  unit: number;
  index: number;
  media: 'disk' | 'cdrom';
  /** snapshot=on (or -snapshot): writes go to a temporary overlay, the file stays untouched. */
  snapshot: boolean;
  /** readonly=on, or media=cdrom. */
  readOnly: boolean;
}

/** A character backend (-chardev, or the one -serial/-monitor create). */
export type QemuChardevBackend =
  | { kind: 'stdio'; mux: boolean }
  | { kind: 'file'; path: string; mux: boolean }
  | { kind: 'null'; mux: boolean }
  /** A virtual console: QEMU's default without -nographic; node-kvm shows no console, as QEMU with -display none. */
  | { kind: 'vc'; mux: boolean };

export interface QemuChardev {
  id: string;
  backend: QemuChardevBackend;
}

/** Where a serial port or monitor goes. */
export type QemuSerialTarget =
  /** A backend of its own, as -serial stdio / file:PATH / null / vc. */
  | { kind: 'backend'; backend: QemuChardevBackend }
  /** mon:stdio: the serial port and the HMP monitor share stdio (Ctrl-A c switches). */
  | { kind: 'mon:stdio' }
  /** chardev:ID: an -chardev of the command line. */
  | { kind: 'chardev'; id: string };

/** -device DRIVER[,PROP=VALUE...]: kept generic; the driver and its property names are checked. */
export interface QemuDeviceOption {
  driver: 'isa-debugcon' | 'isa-debug-exit' | 'isa-serial' | 'pc-testdev' | 'pci-testdev';
  /** Properties as written (id= included), checked to exist and, when numeric, to be integers. */
  props: OptPair[];
  location: string;
}

/** -global DRIVER.PROP=VALUE. */
export interface QemuGlobal {
  driver: string;
  property: string;
  value: string;
}

/** A monitor: -monitor (HMP), -qmp (QMP), or the default one. */
export interface QemuMonitor {
  mode: 'readline' | 'control';
  /** Its chardev text as written ('stdio', 'unix:qmp.sock,server=on,wait=off', 'vc:80Cx24C'). */
  device: string;
}

/** A QEMU command line that starts a machine. */
export interface QemuCommand {
  kind: 'run';
  machine: QemuMachine;
  /** Always KVM: node-kvm has no other accelerator. */
  accel: 'kvm';
  /** -accel kvm,PROP=VALUE (kvm-accel properties, e.g. kernel-irqchip), as written. */
  accelProps: OptPair[];
  memory: QemuMemory;
  smp: QemuSmp;
  cpu: QemuCpu;
  /** -bios FILE, or null for the default (QEMU's bios.bin: SeaBIOS). */
  bios: string | null;
  /** -L DIR, in order: where QEMU looks for firmware files. */
  dataDirs: string[];
  /** -kernel, -append, -initrd (null when absent; -append/-initrd need -kernel). */
  kernel: string | null;
  append: string | null;
  initrd: string | null;
  drives: QemuDrive[];
  chardevs: QemuChardev[];
  /** COM1, COM2, ... in order; QEMU's default when -serial, -nodefaults and -device isa-serial are absent. */
  serials: QemuSerialTarget[];
  monitors: QemuMonitor[];
  devices: QemuDeviceOption[];
  globals: QemuGlobal[];
  /** -display none or -nographic: 'none'; otherwise 'default' (QEMU's GTK; node-kvm has no display). */
  display: 'none' | 'default';
  /** -nographic. */
  nographic: boolean;
  /** -vga: 'std' (QEMU's default for pc) unless -vga none or -nodefaults. */
  vga: 'std' | 'none';
  /** -nodefaults: no default serial port, monitor, VGA, parallel port, CD-ROM, floppy or NIC. */
  nodefaults: boolean;
  /** -no-reboot: a guest reset ends the run. */
  noReboot: boolean;
  /** -no-shutdown: a guest power-off stops the guest instead of ending the run. */
  noShutdown: boolean;
  /** -S: the vCPUs start stopped (the monitor's `cont` starts them). */
  startStopped: boolean;
  /** -gdb DEV (-s is -gdb tcp::1234), or null. */
  gdb: string | null;
  /** -trace: enable= patterns and file=, in order. */
  trace: { patterns: string[]; file: string | null };
  /** -boot: QEMU's BootConfiguration members as written (order, once, menu, ...). */
  boot: OptPair[];
  /** -name guest=NAME (or -name NAME), or null. */
  name: string | null;
  /** -rtc base=: 'utc' (default) or 'localtime'. */
  rtcBase: 'utc' | 'localtime';
  /** -no-acpi. */
  noAcpi: boolean;
  /** -fw_cfg name=NAME,file=PATH|string=TEXT|gen_id=ID, in order. */
  fwCfg: ({ name: string; file: string } | { name: string; string: string } | { name: string; genId: string })[];
  /** -d ITEMS (QEMU's log items, comma-separated) and -D FILE. */
  log: { items: string | null; file: string | null };
  /** -k LANGUAGE (keyboard layout), or null. */
  keyboard: string | null;
  /** Warnings QEMU prints on stderr for this command line before it starts. */
  warnings: QemuWarning[];
}

/** A command line that asks QEMU to print something and exit with status 0. */
export type QemuInfoRequest =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'device-help' }
  | { kind: 'machine-help' }
  | { kind: 'cpu-help' }
  | { kind: 'accel-help' };

export type QemuParseResult = QemuCommand | QemuInfoRequest;
